"""Scheduled roll calls (常态化点名): drawing a rule's random times (pure), editing rules through the
API with reasons, and the rollcall worker issuing a due time to the rule's district and risk level,
skipping whoever is on approved leave or has their alerts suspended."""

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import text

from core.db import session_scope
from rollcall.models import Period
from rollcall.schedule import draw_times, period_bounds
from tests.factories import CENTRE, eventually, signed_in_as, square

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_day_and_a_week_are_local():
    now = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # Thursday 01:00 in Shanghai
    assert period_bounds(Period.day, now, SHANGHAI) == (
        datetime(2026, 12, 3, tzinfo=SHANGHAI),
        datetime(2026, 12, 4, tzinfo=SHANGHAI),
    )
    assert period_bounds(Period.week, now, SHANGHAI) == (
        datetime(2026, 11, 30, tzinfo=SHANGHAI),
        datetime(2026, 12, 7, tzinfo=SHANGHAI),
    )


def test_times_are_drawn_inside_the_window_of_the_period():
    start = datetime(2026, 11, 30, tzinfo=SHANGHAI)
    rng = random.Random(7)
    for period, days in ((Period.day, 1), (Period.week, 7)):
        drawn = draw_times(period=period, times=24, window_start=time(8), window_end=time(22), start=start, rng=rng)
        assert len(drawn) == 24 and drawn == sorted(drawn) and all(t.tzinfo == UTC for t in drawn)
        local = [t.astimezone(SHANGHAI) for t in drawn]
        assert all(time(8) <= t.time() < time(22) for t in local)
        assert all(start <= t < start + timedelta(days=days) for t in local)
    week = draw_times(period=Period.week, times=24, window_start=time(8), window_end=time(9), start=start, rng=rng)
    assert len({t.astimezone(SHANGHAI).date() for t in week}) > 1  # spread over the week's days


def test_rules_are_edited_by_supervisors_with_reasons(admin_api):
    district = admin_api.district()["id"]
    supervisor = signed_in_as(admin_api.client.base_url, admin_api.officer(district, role="supervisor"))
    officer = signed_in_as(admin_api.client.base_url, admin_api.officer(district))
    body = {"district_id": district, "risk_level": "high", "times_per_period": 2}
    rule = supervisor.call("POST", "/rollcall-rules", 201, json=body)
    assert (rule["deadline_min"], rule["close_min"], rule["window_start"]) == (10, 30, "08:00:00")
    assert officer.client.post("/api/v1/rollcall-rules", json=body).status_code == 403
    for bad, reason in (
        ({"window_start": "22:00", "window_end": "08:00"}, "window_end"),
        ({"mode": "office"}, "phone or camera"),
        ({"times_per_period": 30}, "less than or equal to 24"),
    ):
        answer = supervisor.client.post("/api/v1/rollcall-rules", json=body | bad)
        assert answer.status_code == 422 and reason in answer.text, answer.text
    late_window = supervisor.client.patch(f"/api/v1/rollcall-rules/{rule['id']}", json={"window_start": "23:00"})
    assert late_window.status_code == 422 and "window_end" in late_window.text
    changed = supervisor.call("PATCH", f"/rollcall-rules/{rule['id']}", json={"period": "week", "close_min": 60})
    assert changed["period"] == "week" and changed["close_min"] == 60
    assert [r["id"] for r in officer.call("GET", f"/rollcall-rules?district_id={district}")] == [rule["id"]]
    supervisor.call("DELETE", f"/rollcall-rules/{rule['id']}", 204)
    assert officer.call("GET", f"/rollcall-rules?district_id={district}") == []


def test_a_due_time_calls_the_district_but_not_who_is_on_leave_or_suspended(admin_api):
    district = admin_api.district()["id"]
    officer = admin_api.officer(district)
    people = [admin_api.supervisee(district, officer["id"], monitored=False)["id"] for _ in range(4)]
    away, suspended, called, _medium_risk = people  # the last one is not of the rule's risk level
    for person in (away, suspended, called):
        admin_api.call("PATCH", f"/supervisees/{person}", json={"risk_level": "high"})
    now = datetime.now(UTC)
    leave = signed_in_as(admin_api.client.base_url, officer).call(
        "POST",
        "/leaves",
        201,
        json={
            "supervisee_id": away,
            "destination": square(*CENTRE, 3000),
            "destination_name": "沈阳 Shenyang",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
            "reason": "探亲 family visit",
        },
    )
    admin_api.call("POST", f"/leaves/{leave['id']}/approve", json={})
    until = (now + timedelta(hours=2)).isoformat()
    admin_api.call("POST", f"/supervisees/{suspended}/alert-suspensions", 201, json={"until": until, "reason": "住院"})
    rule = admin_api.call("POST", "/rollcall-rules", 201, json={"district_id": district, "risk_level": "high"})
    with session_scope() as session:
        # Tests do not wait for the clock: one planned time is already due.
        session.execute(
            text("UPDATE roll_call_rule SET planned = CAST(:p AS jsonb), planned_until = :u WHERE id = :r"),
            {
                "p": orjson.dumps([(now - timedelta(seconds=1)).isoformat()]).decode(),
                "u": now + timedelta(hours=3),
                "r": rule["id"],
            },
        )

    def issued():
        found = admin_api.call("GET", "/rollcalls?since=" + now.isoformat().replace("+", "%2B"))
        return [r for r in found if r["rule_id"] == rule["id"]]

    [roll_call] = eventually(issued, timeout_s=30, what="the scheduled roll call")
    assert roll_call["kind"] == "scheduled" and roll_call["issued_by"] is None and roll_call["target_count"] == 1
    [target] = admin_api.call("GET", f"/rollcalls/{roll_call['id']}/targets")
    assert target["supervisee_id"] == called and target["delivered_at"]
    assert admin_api.call("GET", f"/rollcall-rules?district_id={district}")[0]["planned"] == []
