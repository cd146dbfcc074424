"""Travel leave (请假外出) through the portal API: request → a supervisor's approval or refusal with its
record → the leave zone in its window → the return (销假); every step audited."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.audit import AuditLog
from tests.factories import CENTRE, offset, signed_in_as, square

AWAY = offset(*CENTRE, north_m=20_000)


@pytest.fixture(scope="module")
def team(admin_api, portal_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    supervisors = [admin_api.officer(district["id"], role="supervisor") for _ in range(2)]
    return {
        "district": district,
        "officer_record": officer,
        "officer": signed_in_as(portal_url, officer),
        "supervisor_record": supervisors[0],
        "supervisor": signed_in_as(portal_url, supervisors[0]),
        "other_supervisor": signed_in_as(portal_url, supervisors[1]),
        "person": admin_api.supervisee(district["id"], officer["id"]),
    }


def leave_body(person: dict, starts_in_h: float = -1, hours: float = 48, **changes) -> dict:
    start = datetime.now(UTC) + timedelta(hours=starts_in_h)
    return {
        "supervisee_id": person["id"],
        "destination": square(*AWAY, 3000),
        "destination_name": "沈阳 Shenyang",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=hours)).isoformat(),
        "reason": "探望住院的母亲 visiting mother in hospital",
    } | changes


def audit_actions(db, leave_id: int) -> list[str]:
    db.expire_all()
    rows = db.scalars(
        select(AuditLog.action)
        .where(AuditLog.entity == "leave", AuditLog.entity_id == str(leave_id))
        .order_by(AuditLog.id)
    )
    return list(rows)


def test_request_approval_return_journey(team, db):
    officer, supervisor, person = team["officer"], team["supervisor"], team["person"]
    asked = officer.call("POST", "/leaves", 201, json=leave_body(person))
    assert asked["decision"] == "requested" and asked["zone_id"] is None
    assert asked["requested_by"] == team["officer_record"]["id"]
    # Unapproved: no leave zone, so being away is still a violation.
    assert not [z for z in officer.call("GET", f"/zones?supervisee_id={person['id']}") if z["travel_leave"]]

    refused = officer.call("POST", f"/leaves/{asked['id']}/approve", 403, json={})
    assert "supervisor" in refused["detail"]

    approved = supervisor.call("POST", f"/leaves/{asked['id']}/approve", json={"note": "同意 approved"})
    assert approved["decision"] == "approved" and approved["decided_by"] == team["supervisor_record"]["id"]
    assert approved["decision_note"] == "同意 approved" and approved["decided_at"]
    zone = officer.call("GET", f"/zones/{approved['zone_id']}")
    assert zone["travel_leave"] and zone["kind"] == "inclusion" and zone["supervisee_id"] == person["id"]
    assert datetime.fromisoformat(zone["valid_from"]) == datetime.fromisoformat(asked["starts_at"])
    assert datetime.fromisoformat(zone["valid_to"]) == datetime.fromisoformat(asked["ends_at"])
    again = team["other_supervisor"].call("POST", f"/leaves/{asked['id']}/approve", 409, json={})
    assert "already approved" in again["detail"]

    returned = officer.call("POST", f"/leaves/{asked['id']}/return")
    assert returned["returned_at"] and returned["returned_by"] == team["officer_record"]["id"]
    assert officer.call("GET", f"/zones/{approved['zone_id']}")["returned_at"] == returned["returned_at"]
    officer.call("POST", f"/leaves/{asked['id']}/return", 409)
    assert audit_actions(db, asked["id"]) == ["leave.request", "leave.approve", "leave.return"]
    listed = officer.call("GET", f"/leaves?supervisee_id={person['id']}&decision=approved")
    assert [leave["id"] for leave in listed] == [asked["id"]]


def test_refusal_needs_a_reason_and_makes_no_zone(team, db):
    asked = team["officer"].call("POST", "/leaves", 201, json=leave_body(team["person"]))
    team["supervisor"].call("POST", f"/leaves/{asked['id']}/refuse", 422, json={"note": " "})
    refused = team["supervisor"].call(
        "POST", f"/leaves/{asked['id']}/refuse", json={"note": "理由不足 not enough reason"}
    )
    assert refused["decision"] == "refused" and refused["zone_id"] is None
    back = team["officer"].call("POST", f"/leaves/{asked['id']}/return", 409)
    assert "not approved" in back["detail"]
    assert audit_actions(db, asked["id"]) == ["leave.request", "leave.refuse"]


def test_whoever_asked_does_not_decide(team):
    asked = team["supervisor"].call("POST", "/leaves", 201, json=leave_body(team["person"]))
    own = team["supervisor"].call("POST", f"/leaves/{asked['id']}/approve", 403, json={})
    assert "someone other" in own["detail"]
    team["other_supervisor"].call("POST", f"/leaves/{asked['id']}/approve", json={})


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"ends_at": (datetime.now(UTC) - timedelta(hours=5)).isoformat()}, "ends_at must be after starts_at"),
        ({"starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-02T00:00:00Z"}, "already be over"),
        ({"destination": {"type": "Point", "coordinates": [123.0, 41.0]}}, "must be a Polygon"),
        ({"reason": ""}, "reason"),
    ],
)
def test_a_bad_request_is_refused_with_the_reason(team, changes, reason):
    error = team["officer"].call("POST", "/leaves", 422, json=leave_body(team["person"], **changes))
    assert reason in str(error["detail"])


def test_an_officer_cannot_grant_leave_through_the_zone_api(team):
    person = team["person"]
    zone = {
        "name": "请假 leave",
        "kind": "inclusion",
        "supervisee_id": person["id"],
        "geometry": square(*AWAY, 2000),
        "travel_leave": True,
        "valid_from": datetime.now(UTC).isoformat(),
        "valid_to": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    assert "POST /api/v1/leaves" in team["officer"].call("POST", "/zones", 403, json=zone)["detail"]
    granted = team["supervisor"].call("POST", "/zones", 201, json=zone)
    longer = {"valid_to": (datetime.now(UTC) + timedelta(days=30)).isoformat()}
    team["officer"].call("PATCH", f"/zones/{granted['id']}", 403, json=longer)
