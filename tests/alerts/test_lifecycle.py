"""Alert episodes: idempotent raising, ending, and the officer's lifecycle with its permissions."""

from datetime import timedelta

import pytest

from core.timezones import utcnow
from core.wire import AlertLevel
from tests.alerts.helpers import end_alert, raise_alert
from tests.factories import signed_in_as

# Recent, so that the test platform's watchdog does not escalate these alerts as overdue meanwhile.
T0 = utcnow().replace(microsecond=0)


@pytest.fixture
def case(admin_api, portal_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    auditor = admin_api.officer(district["id"], role="auditor")
    person = admin_api.supervisee(district["id"], officer["id"])
    return {
        "person": person,
        "officer": officer,
        "officer_api": signed_in_as(portal_url, officer),
        "auditor_api": signed_in_as(portal_url, auditor),
    }


def test_one_episode_is_one_alert_and_replays_change_nothing(case, admin_api):
    pid = case["person"]["id"]
    assert raise_alert(pid, T0).kind == "opened"
    assert raise_alert(pid, T0 + timedelta(minutes=5)) is None  # more evidence, same episode
    assert raise_alert(pid, T0 + timedelta(minutes=9), AlertLevel.red).kind == "level_raised"
    assert end_alert(pid, T0 + timedelta(minutes=20)).kind == "ended"
    # The whole episode replayed (a worker restarted before committing its offsets):
    for minutes in (0, 5, 9):
        assert raise_alert(pid, T0 + timedelta(minutes=minutes)) is None
    assert end_alert(pid, T0 + timedelta(minutes=20)) is None
    alerts = admin_api.call("GET", f"/alerts?supervisee_id={pid}")
    assert len(alerts) == 1
    assert alerts[0]["level"] == "red" and alerts[0]["evidence"]["count"] == 3
    assert alerts[0]["assignee_id"] == case["officer"]["id"]
    # A new silence after the episode ended is a new episode.
    assert raise_alert(pid, T0 + timedelta(hours=3)).kind == "opened"


def test_acknowledge_then_resolve_with_a_disposition(case):
    raise_alert(case["person"]["id"], T0)
    api = case["officer_api"]
    (alert,) = api.call("GET", f"/alerts?supervisee_id={case['person']['id']}&status=open")
    acked = api.call("POST", f"/alerts/{alert['id']}/ack", json={"note": "电话联系中 calling him"})
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == case["officer"]["id"]
    api.call("POST", f"/alerts/{alert['id']}/ack", expect=409, json={})
    resolved = api.call(
        "POST", f"/alerts/{alert['id']}/resolve", json={"disposition": "false_alarm", "note": "phone battery"}
    )
    assert resolved["status"] == "resolved" and resolved["disposition"] == "false_alarm"
    api.call("POST", f"/alerts/{alert['id']}/resolve", expect=409, json={"disposition": "other"})
    kinds = [e["kind"] for e in api.call("GET", f"/alerts/{alert['id']}/events")]
    assert kinds == ["opened", "acknowledged", "resolved"]


def test_a_disposition_is_required_and_checked(case):
    raise_alert(case["person"]["id"], T0)
    api = case["officer_api"]
    (alert,) = api.call("GET", f"/alerts?supervisee_id={case['person']['id']}")
    error = api.call("POST", f"/alerts/{alert['id']}/resolve", expect=422, json={"disposition": "whatever"})
    assert error["detail"][0]["field"] == "disposition"


def test_auditors_read_but_cannot_handle_alerts(case):
    raise_alert(case["person"]["id"], T0)
    (alert,) = case["auditor_api"].call("GET", f"/alerts?supervisee_id={case['person']['id']}")
    case["auditor_api"].call("POST", f"/alerts/{alert['id']}/ack", expect=403, json={})


def test_other_officers_do_not_see_the_alert(case, admin_api, portal_url):
    raise_alert(case["person"]["id"], T0)
    (alert,) = admin_api.call("GET", f"/alerts?supervisee_id={case['person']['id']}")
    stranger = signed_in_as(portal_url, admin_api.officer(admin_api.district()["id"]))
    stranger.call("GET", f"/alerts/{alert['id']}", expect=404)
    assert stranger.call("GET", "/alerts") == []
