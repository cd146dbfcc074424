"""Episode semantics around a resolve: resolving an alert while the person is still outside keeps its
episode (no new alert at the next fix), the episode records when the person came back, a new alert
comes only from a new exit after that return, and the escalation to red by time still applies
unless the officer dismissed the alert (false alarm, approved absence). Zone events are applied the
way the alerts worker applies them."""

from datetime import timedelta

import pytest

from core.timezones import utcnow
from tests.alerts.helpers import apply_zone_events as apply
from tests.alerts.helpers import exit_event
from tests.factories import signed_in_as

T0 = utcnow().replace(microsecond=0)


def zone_event(person: int, zone: int, kind: str, minutes: float, started_min: float = 0) -> dict:
    """An exit event ``minutes`` after T0 of an episode that began ``started_min`` after T0."""
    return exit_event(person, zone, kind, T0 + timedelta(minutes=minutes), T0 + timedelta(minutes=started_min))


@pytest.fixture
def case(admin_api, portal_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    person = admin_api.supervisee(district["id"], officer["id"])
    zone = admin_api.home_zone(person["id"])
    return {"person": person["id"], "zone": zone["id"], "api": signed_in_as(portal_url, officer)}


def alerts_of(case) -> list[dict]:
    return sorted(case["api"].call("GET", f"/alerts?supervisee_id={case['person']}"), key=lambda a: a["id"])


def test_resolving_while_still_outside_keeps_the_episode_until_a_return(case):
    person, zone, api = case["person"], case["zone"], case["api"]
    assert [c.kind for c in apply(zone_event(person, zone, "opened", 1))] == ["opened"]
    (alert,) = alerts_of(case)
    api.call("POST", f"/alerts/{alert['id']}/resolve", json={"disposition": "false_alarm", "note": "GPS drift"})

    # Still outside: the next fixes are evidence of the resolved episode, not a new alert; past the
    # red time a false alarm stays resolved and yellow.
    assert apply(zone_event(person, zone, "evidence", 5), zone_event(person, zone, "evidence", 40)) == []
    (kept,) = alerts_of(case)
    assert kept["status"] == "resolved" and kept["level"] == "yellow" and kept["ended_at"] is None
    assert kept["evidence"]["count"] == 3

    # Back inside: the resolved episode records the return.
    assert [c.kind for c in apply(zone_event(person, zone, "ended", 50))] == ["ended"]
    (returned,) = alerts_of(case)
    assert returned["ended_at"] is not None and returned["status"] == "resolved"
    kinds = [e["kind"] for e in api.call("GET", f"/alerts/{alert['id']}/events")]
    assert kinds == ["opened", "resolved", "ended"]

    # The whole story replayed (a worker restarted before committing its offsets) changes nothing.
    replay = [zone_event(person, zone, k, m) for k, m in (("opened", 1), ("evidence", 5), ("evidence", 40))]
    assert apply(*replay, zone_event(person, zone, "ended", 50)) == []
    assert len(alerts_of(case)) == 1

    # A new exit after the return is a new alert.
    assert [c.kind for c in apply(zone_event(person, zone, "opened", 61, started_min=60))] == ["opened"]
    assert [a["status"] for a in alerts_of(case)] == ["resolved", "open"]


@pytest.mark.parametrize("disposition", ["confirmed_violation", "other"])
def test_escalation_to_red_by_time_reopens_a_resolved_episode(case, disposition):
    person, zone, api = case["person"], case["zone"], case["api"]
    apply(zone_event(person, zone, "opened", 1))
    (alert,) = alerts_of(case)
    api.call("POST", f"/alerts/{alert['id']}/ack", json={"note": "called him"})
    api.call("POST", f"/alerts/{alert['id']}/resolve", json={"disposition": disposition})
    assert apply(zone_event(person, zone, "evidence", 10)) == []

    # Still outside past the red time: the same episode comes back, red, to be handled again.
    assert [c.kind for c in apply(zone_event(person, zone, "evidence", 40))] == ["level_raised"]
    (reopened,) = alerts_of(case)
    assert reopened["id"] == alert["id"]
    assert reopened["status"] == "open" and reopened["level"] == "red"
    events = api.call("GET", f"/alerts/{alert['id']}/events")
    assert [e["kind"] for e in events] == ["opened", "acknowledged", "resolved", "level_raised"]
    assert events[-1]["detail"]["reopened"] is True
    # Replayed, nothing more.
    assert apply(zone_event(person, zone, "evidence", 40), zone_event(person, zone, "evidence", 10)) == []
    assert len(alerts_of(case)) == 1


def test_approved_absence_is_not_escalated(case):
    person, zone, api = case["person"], case["zone"], case["api"]
    apply(zone_event(person, zone, "opened", 1))
    (alert,) = alerts_of(case)
    api.call("POST", f"/alerts/{alert['id']}/resolve", json={"disposition": "approved_absence", "note": "hospital"})
    assert apply(zone_event(person, zone, "evidence", 45)) == []
    (kept,) = alerts_of(case)
    assert kept["status"] == "resolved" and kept["level"] == "yellow"
