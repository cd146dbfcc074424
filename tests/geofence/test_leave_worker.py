"""The geofence worker honours an approved leave's window only: at the destination during the window
raises nothing; before the window, or with the request not yet approved, being there is an exit."""

from datetime import UTC, datetime, timedelta

from tests.factories import CENTRE, eventually, offset, post_fixes, post_outside, signed_in_as, square

DESTINATION = offset(*CENTRE, north_m=20_000)
ELSEWHERE = offset(*CENTRE, east_m=-20_000)


def person_on_leave(admin_api, portal_url, starts_in_h: float | None) -> tuple[dict, dict]:
    """A person with a home wall and a leave to DESTINATION asked by their officer; approved (from
    ``starts_in_h`` hours from now, for two days) unless that is None."""
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    person = admin_api.supervisee(district["id"], officer["id"])
    device = admin_api.device(person["id"])
    admin_api.home_zone(person["id"])
    start = datetime.now(UTC) + timedelta(hours=starts_in_h or 0)
    asked = signed_in_as(portal_url, officer).call(
        "POST",
        "/leaves",
        201,
        json={
            "supervisee_id": person["id"],
            "destination": square(*DESTINATION, 3000),
            "destination_name": "沈阳 Shenyang",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(days=2)).isoformat(),
            "reason": "探亲 family visit",
        },
    )
    if starts_in_h is not None:
        admin_api.call("POST", f"/leaves/{asked['id']}/approve", json={"note": "同意"})
    return person, device


def alerts_of(admin_api, person) -> list[dict]:
    return admin_api.call("GET", f"/alerts?supervisee_id={person['id']}")


def test_at_the_destination_during_the_window_raises_nothing(admin_api, portal_url, ingest):
    person, device = person_on_leave(admin_api, portal_url, starts_in_h=-1)
    now = datetime.now(UTC)
    lat, lon = DESTINATION
    at_destination = [
        {"ts": (now - timedelta(seconds=s)).isoformat(), "lat": lat, "lon": lon, "accuracy_m": 10}
        for s in (300, 270, 240, 210)
    ]
    assert post_fixes(ingest, device["token"], at_destination).status_code == 202
    # Then somewhere neither home nor the destination: the only episode starts there, so the fixes at
    # the destination, processed before them in order, raised nothing.
    post_outside(ingest, device["token"], *ELSEWHERE)
    alerts = eventually(lambda: alerts_of(admin_api, person), what="the exit beyond the leave")
    assert len(alerts) == 1
    assert datetime.fromisoformat(alerts[0]["started_at"]) > now - timedelta(seconds=120)


def test_before_the_window_or_unapproved_the_destination_is_an_exit(admin_api, portal_url, ingest):
    for starts_in_h in (6, None):
        person, device = person_on_leave(admin_api, portal_url, starts_in_h=starts_in_h)
        post_outside(ingest, device["token"], *DESTINATION)
        alerts = eventually(lambda person=person: alerts_of(admin_api, person), what=f"exit ({starts_in_h})")
        assert alerts[0]["rule"] == "inclusion_exit"
