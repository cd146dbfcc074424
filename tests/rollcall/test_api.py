"""The staff roll-call API: issuing to each kind of audience within the caller's caseload, reading
roll calls and targets, delivery (the ``issued`` events), cancelling and excusing."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from core import bus
from core.db import session_scope
from rollcall import service
from tests.factories import eventually, signed_in_as


@pytest.fixture(scope="module")
def county(admin_api):
    """A county with two officers' caseloads (two people and one high-risk person), a supervisor and an auditor."""
    district = admin_api.district()
    officer, other = admin_api.officer(district["id"]), admin_api.officer(district["id"])
    mine = [admin_api.supervisee(district["id"], officer["id"], monitored=False) for _ in range(2)]
    risky = admin_api.call("PATCH", f"/supervisees/{mine[1]['id']}", json={"risk_level": "high"})
    theirs = admin_api.supervisee(district["id"], other["id"], monitored=False)
    return {
        "district": district,
        "officer": signed_in_as(admin_api.client.base_url, officer),
        "officer_row": officer,
        "supervisor": signed_in_as(admin_api.client.base_url, admin_api.officer(district["id"], role="supervisor")),
        "auditor": signed_in_as(admin_api.client.base_url, admin_api.officer(district["id"], role="auditor")),
        "mine": mine,
        "risky": risky,
        "theirs": theirs,
    }


def _call(api, audience: dict, expect: int = 201, **extra):
    return api.call("POST", "/rollcalls", expect, json={"mode": "phone", "audience": audience, **extra})


def _pending_ids(person_id: int) -> list[int]:
    with session_scope() as session:
        return [p.roll_call_id for p in service.pending_for(session=session, supervisee_id=person_id)]


def test_an_officer_calls_their_caseload_and_the_phone_pages_hear_of_it(county):
    tail = bus.tail_consumer([bus.ROLLCALL])
    try:
        # A district audience from an officer is their caseload in it, nobody else's.
        made = _call(county["officer"], {"district_id": county["district"]["id"]}, message="请应答 answer now")
        mine = sorted(p["id"] for p in county["mine"])
        events = []

        def heard():
            for batch in tail.poll(timeout_ms=500).values():
                events.extend(bus.decode(r.value) for r in batch)
            return [e for e in events if e.get("roll_call_id") == made["id"]]

        issued = eventually(heard, timeout_s=20, what="the issued event")
    finally:
        tail.close()
    assert issued == [
        {
            "kind": "issued",
            "roll_call_id": made["id"],
            "mode": "phone",
            "deadline_at": issued[0]["deadline_at"],
            "supervisee_ids": mine,
        }
    ]
    assert made["target_count"] == 2 and made["counts"]["pending"] == 2 and made["status"] == "open"
    issued_at = datetime.fromisoformat(made["issued_at"])
    assert datetime.fromisoformat(made["deadline_at"]) - issued_at == timedelta(minutes=10)
    assert datetime.fromisoformat(made["closes_at"]) - issued_at == timedelta(minutes=30)
    targets = county["officer"].call("GET", f"/rollcalls/{made['id']}/targets")
    assert [t["supervisee_id"] for t in targets] == sorted(
        mine, key=lambda i: next(p["code"] for p in county["mine"] if p["id"] == i)
    )
    assert all(t["delivered_at"] and t["status"] == "pending" and not t["has_photo"] for t in targets)
    with session_scope() as session:
        notified = session.scalars(
            text("SELECT notified_at FROM roll_call_target WHERE roll_call_id = :r"), {"r": made["id"]}
        )
        assert all(notified)
    assert targets[0]["person_code"] and targets[0]["person_name"] == "张三"
    # The other officer's person is not in it; their supervisor sees it, the auditor reads it.
    listed = county["supervisor"].call("GET", "/rollcalls?status=open")
    assert made["id"] in [r["id"] for r in listed]
    assert county["auditor"].call("GET", f"/rollcalls/{made['id']}")["target_count"] == 2


def test_audiences_are_narrowed_to_the_callers_caseload(county):
    officer = county["officer"]
    risky = _call(officer, {"filter": {"risk_level": "high"}})
    assert risky["target_count"] == 1 and risky["district_id"] is None
    listed = _call(county["supervisor"], {"supervisee_ids": [county["theirs"]["id"], county["mine"][0]["id"]]})
    assert listed["target_count"] == 2
    answer = _call(officer, {"supervisee_ids": [county["theirs"]["id"]]}, 422)
    assert "no one to call" in answer["detail"]
    whole = _call(county["supervisor"], {"officer_id": county["officer_row"]["id"]})
    assert whole["target_count"] == 2
    refused = county["auditor"].client.post("/api/v1/rollcalls", json={"mode": "phone", "audience": {"officer_id": 1}})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"mode": "phone", "audience": {"officer_id": 1, "district_id": 1}}, "exactly one of"),
        ({"mode": "phone", "audience": {}}, "exactly one of"),
        ({"mode": "office", "audience": {"officer_id": 1}}, "office_date"),
        ({"mode": "phone", "audience": {"officer_id": 1}, "deadline_min": 20, "close_min": 10}, "close_min"),
        ({"mode": "phone", "audience": {"filter": {}}}, "at least one"),
        ({"mode": "phone", "audience": {"officer_id": 1}, "office_date": "2026-12-01"}, "only for mode office"),
    ],
)
def test_bad_roll_calls_are_refused_with_the_reason(county, body, reason):
    answer = county["supervisor"].client.post("/api/v1/rollcalls", json=body)
    assert answer.status_code == 422 and reason in answer.text, answer.text


def test_an_office_day_is_due_by_its_end_and_shows_as_upcoming(county):
    person = county["mine"][0]
    day = datetime.now(UTC).date() + timedelta(days=2)
    made = _call(county["officer"], {"supervisee_ids": [person["id"]]}, mode="office", office_date=str(day))
    closes = datetime.fromisoformat(made["closes_at"])
    assert made["deadline_at"] == made["closes_at"]
    # The next midnight in Shanghai (UTC+8) after the day: 16:00 UTC on the day itself.
    assert closes.astimezone(UTC) == datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=16)
    assert made["office_date"] == str(day)
    with session_scope() as session:
        upcoming = service.upcoming_office(session=session, supervisee_id=person["id"])
    assert made["id"] in [u.roll_call_id for u in upcoming]
    assert made["id"] not in _pending_ids(person["id"])
    past = _call(
        county["officer"], {"supervisee_ids": [person["id"]]}, 422, mode="office", office_date=str(date(2026, 1, 1))
    )
    assert "is over" in past["detail"]
    far = _call(county["officer"], {"supervisee_ids": [person["id"]]}, 422, mode="office", office_date="9999-12-31")
    assert "days ahead" in far["detail"]


def test_cancel_excuses_who_has_not_answered_and_excuse_needs_a_reason(county):
    officer, supervisor = county["officer"], county["supervisor"]
    person = county["mine"][0]
    made = _call(supervisor, {"supervisee_ids": [person["id"]]})
    assert made["id"] in _pending_ids(person["id"])
    assert officer.client.post(f"/api/v1/rollcalls/{made['id']}/cancel").status_code == 403  # not theirs
    cancelled = supervisor.call("POST", f"/rollcalls/{made['id']}/cancel")
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["excused"] == 1
    assert supervisor.client.post(f"/api/v1/rollcalls/{made['id']}/cancel").status_code == 409
    assert made["id"] not in _pending_ids(person["id"])

    other = _call(officer, {"supervisee_ids": [person["id"]]})
    target = officer.call("GET", f"/rollcalls/{other['id']}/targets")[0]
    blank = officer.client.post(f"/api/v1/rollcall-targets/{target['id']}/excuse", json={"reason": " "})
    assert blank.status_code == 422
    excused = officer.call("POST", f"/rollcall-targets/{target['id']}/excuse", json={"reason": "住院 in hospital"})
    assert excused["status"] == "excused" and excused["excused_reason"] == "住院 in hospital"
    again = officer.client.post(f"/api/v1/rollcall-targets/{target['id']}/excuse", json={"reason": "again"})
    assert again.status_code == 409 and "excused" in again.text
    assert officer.call("POST", f"/rollcalls/{other['id']}/cancel")["counts"]["excused"] == 1  # the issuer may
