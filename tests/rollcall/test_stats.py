"""Roll-call statistics per officer and district: counts by outcome, answer rate, median delay."""

from sqlalchemy import text

from core.db import session_scope
from tests.factories import signed_in_as


def test_stats_count_outcomes_per_officer_and_district(admin_api):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    people = [admin_api.supervisee(district["id"], officer["id"], monitored=False)["id"] for _ in range(4)]
    made = admin_api.call("POST", "/rollcalls", 201, json={"mode": "phone", "audience": {"officer_id": officer["id"]}})
    on_time, late, missed, excused = people
    with session_scope() as session:
        for person, status, delay_s in ((on_time, "answered", 60), (late, "late", 900), (missed, "missed", None)):
            session.execute(
                text(
                    "UPDATE roll_call_target t SET status = CAST(:s AS roll_call_target_status), "
                    "answered_at = r.issued_at + make_interval(secs => :d) FROM roll_call r "
                    "WHERE r.id = t.roll_call_id AND t.roll_call_id = :r AND t.supervisee_id = :p"
                ),
                {"s": status, "d": delay_s, "r": made["id"], "p": person},
            )
    target = next(t for t in admin_api.call("GET", f"/rollcalls/{made['id']}/targets") if t["supervisee_id"] == excused)
    admin_api.call("POST", f"/rollcall-targets/{target['id']}/excuse", json={"reason": "住院 in hospital"})
    mine = signed_in_as(admin_api.client.base_url, officer).call("GET", "/rollcalls/stats")
    expected = {
        "id": officer["id"],
        "name": officer["full_name"],
        "called": 4,
        "answered": 1,
        "late": 1,
        "missed": 1,
        "excused": 1,
        "pending": 0,
        "answer_rate": 0.6667,
        "median_delay_s": 480.0,
    }
    assert mine["officers"] == [expected]
    assert mine["districts"] == [expected | {"id": district["id"], "name": district["name"]}]
    bad = admin_api.client.get(
        "/api/v1/rollcalls/stats", params={"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}
    )
    assert bad.status_code == 422 and "before" in bad.text
