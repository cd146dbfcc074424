"""The geofence worker in the running platform: a restarted worker continues from its snapshot,
a replayed batch raises no second alert, a curfew and a district-wide barred place raise theirs, and
three yellows in a week make the third red."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from geofence.config import get_geofence_settings
from geofence.models import GeofenceState
from ops import stack
from tests.conftest import INSTANCE
from tests.factories import CENTRE, eventually, offset, post_fixes, post_outside, square

OUT = offset(*CENTRE, north_m=1200)  # 700 m beyond a 500 m wall: yellow
HOME = CENTRE


def fixes_at(place: tuple[float, float], at: datetime, seconds: list[int]) -> list[dict]:
    lat, lon = place
    return [{"ts": (at + timedelta(seconds=s)).isoformat(), "lat": lat, "lon": lon, "accuracy_m": 10} for s in seconds]


def send(ingest, token: str, fixes: list[dict]) -> None:
    response = post_fixes(ingest, token, fixes)
    assert response.status_code == 202 and response.json()["accepted"] == len(fixes), response.text


def restart_geofence_worker(settings) -> None:
    stack.restart(settings, INSTANCE, "geofence")


@pytest.fixture
def watched(admin_api):
    """A person with a device and a 500 m wall."""
    person = admin_api.supervisee(admin_api.district()["id"])
    device = admin_api.device(person["id"])
    zone = admin_api.home_zone(person["id"])
    return person, device, zone


def alerts_of(admin_api, person) -> list[dict]:
    return admin_api.call("GET", f"/alerts?supervisee_id={person['id']}")


def test_a_restarted_worker_continues_its_runs_and_a_replay_raises_nothing_twice(
    admin_api, ingest, platform, db, watched
):
    person, device, zone = watched
    eventually(lambda: post_outside(ingest, device["token"], *OUT) or alerts_of(admin_api, person), what="first alert")
    start = datetime.now(UTC) + timedelta(seconds=10)
    send(ingest, device["token"], fixes_at(HOME, start, [0, 30]))
    eventually(lambda: alerts_of(admin_api, person)[0]["ended_at"], what="the first episode's end")

    # Part of a second exit, one fix short of confirming it; then the worker restarts.
    needed = get_geofence_settings().exit_confirm_fixes
    run = fixes_at(OUT, start + timedelta(seconds=60), [30 * n for n in range(needed)])
    send(ingest, device["token"], run[:-1])

    def snapshotted():
        db.expire_all()
        return db.scalar(
            select(GeofenceState).where(
                GeofenceState.supervisee_id == person["id"], GeofenceState.zone_id == zone["id"]
            )
        )

    eventually(snapshotted, what="the part-way run in the snapshot")
    restart_geofence_worker(platform)
    send(ingest, device["token"], run[-1:])
    second = eventually(lambda: [a for a in alerts_of(admin_api, person) if a["ended_at"] is None], what="second alert")
    began = datetime.fromisoformat(second[0]["started_at"])
    assert began == datetime.fromisoformat(run[0]["ts"]), (
        "the episode began with the run's first fix, before the restart"
    )

    # The same fixes again after another restart (a replay), then back home.
    restart_geofence_worker(platform)
    send(ingest, device["token"], run)
    send(ingest, device["token"], fixes_at(HOME, start + timedelta(seconds=60 + 30 * needed), [0, 30]))
    eventually(lambda: all(a["ended_at"] for a in alerts_of(admin_api, person)), what="the second episode's end")
    alerts = alerts_of(admin_api, person)
    assert len(alerts) == 2
    for alert in alerts:
        kinds = [e["kind"] for e in admin_api.call("GET", f"/alerts/{alert['id']}/events")]
        assert kinds.count("opened") == 1 and kinds.count("ended") == 1


def test_the_third_yellow_within_a_week_is_red(admin_api, ingest, watched):
    person, device, _ = watched
    start = datetime.now(UTC) - timedelta(minutes=45)  # recent enough not to count as signal lost
    needed = get_geofence_settings().exit_confirm_fixes
    for n in range(3):
        at = start + timedelta(minutes=12 * n)
        fixes = fixes_at(OUT, at, [30 * k for k in range(needed)]) + fixes_at(HOME, at, [300, 330])
        if n == 0:  # the worker may not have the new zone yet: repeat until the first one counts
            eventually(lambda f=fixes: send(ingest, device["token"], f) or alerts_of(admin_api, person), what="alert")
        else:
            send(ingest, device["token"], fixes)

    def all_three():
        alerts = alerts_of(admin_api, person)
        return alerts if len(alerts) == 3 and all(a["ended_at"] for a in alerts) else None

    alerts = eventually(all_three, what="three ended alerts")
    levels = [a["level"] for a in sorted(alerts, key=lambda a: a["started_at"])]
    assert levels == ["yellow", "yellow", "red"]
    third = max(alerts, key=lambda a: a["started_at"])
    kinds = [e["kind"] for e in admin_api.call("GET", f"/alerts/{third['id']}/events")]
    assert "level_raised" in kinds


def test_a_district_wide_barred_place_binds_everyone_in_the_district(admin_api, ingest):
    district = admin_api.district()
    person = admin_api.supervisee(district["id"])
    device = admin_api.device(person["id"])
    school = offset(*CENTRE, east_m=3000)
    zone = admin_api.call(
        "POST",
        "/zones",
        201,
        json={
            "name": "学校 school",
            "kind": "exclusion",
            "district_id": district["id"],
            "geometry": square(*school, 100),
        },
    )
    found = eventually(
        lambda: post_outside(ingest, device["token"], *school) or alerts_of(admin_api, person), what="exclusion alert"
    )
    assert found[0]["rule"] == "exclusion_entry" and found[0]["zone_id"] == zone["id"]
    assert found[0]["level"] == "red", "wholly inside the barred place itself"
