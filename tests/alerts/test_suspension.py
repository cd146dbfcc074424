"""Suspending a person's alerts: bounded, with a reason, liftable; new episodes are held back (and
recorded), episodes already open go on."""

from datetime import datetime, timedelta

import pytest

from alerts import rules
from alerts.config import get_alert_settings
from alerts.watchdog import check_signal_lost
from core.db import session_scope
from core.timezones import utcnow
from core.wire import AlertLevel
from tests.alerts.helpers import audit_entries, audit_problems, end_alert, raise_alert, sql
from tests.factories import signed_in_as


@pytest.fixture
def case(admin_api, portal_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    person = admin_api.supervisee(district["id"], officer["id"])
    return {
        "district": district,
        "person": person,
        "officer_api": signed_in_as(portal_url, officer),
        "path": f"/supervisees/{person['id']}/alert-suspensions",
    }


def _suspend(api, path: str, days: float = 1, reason: str = "住院 in hospital, phone off", expect: int = 201):
    return api.call(
        "POST", path, expect, json={"until": (utcnow() + timedelta(days=days)).isoformat(), "reason": reason}
    )


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_a_suspension_holds_back_new_episodes_and_records_them(case, admin_api):
    api, pid = case["officer_api"], case["person"]["id"]
    held = _suspend(api, case["path"])
    start = _at(held["from_at"])
    for minutes in (1, 1, 5, 3):  # a replay, newer evidence, late older evidence
        assert raise_alert(pid, start + timedelta(minutes=minutes)) is None
    assert raise_alert(pid, start + timedelta(minutes=6), AlertLevel.red) is None
    assert admin_api.call("GET", f"/alerts?supervisee_id={pid}") == []

    (listed,) = api.call("GET", case["path"])
    key = rules.dedup_key(rules.SIGNAL_LOST, pid)
    assert listed["suppressed"][key] | {"first_at": None, "last_at": None} == {
        "rule": rules.SIGNAL_LOST,
        "level": "red",
        "count": 3,  # 1, 5 and 6 minutes: replays and late evidence do not count again
        "first_at": None,
        "last_at": None,
    }
    assert _at(listed["suppressed"][key]["last_at"]) == start + timedelta(minutes=6)
    actions = [e.action for e in audit_entries("alert_suspension", held["id"])]
    assert actions == ["alert_suspension.create", "alert.suppressed"]  # once per episode key
    assert audit_problems() == []


def test_open_episodes_go_on_during_a_suspension(case, admin_api):
    api, pid = case["officer_api"], case["person"]["id"]
    start = _at(_suspend(api, case["path"])["from_at"])
    assert raise_alert(pid, start - timedelta(minutes=10)).kind == "opened"  # before the suspension
    assert raise_alert(pid, start + timedelta(minutes=5), AlertLevel.red).kind == "level_raised"
    assert end_alert(pid, start + timedelta(minutes=10)).kind == "ended"
    assert raise_alert(pid, start + timedelta(minutes=20)) is None  # a new episode is held back
    (alert,) = admin_api.call("GET", f"/alerts?supervisee_id={pid}")
    assert alert["evidence"]["count"] == 2 and alert["level"] == "red"


def test_lifting_ends_the_suspension_early(case, admin_api):
    api, pid = case["officer_api"], case["person"]["id"]
    held = _suspend(api, case["path"])
    lifted = api.call("DELETE", f"{case['path']}/{held['id']}")
    end = _at(lifted["ended_at"])
    assert lifted["ended_by"] is not None and _at(lifted["until_at"]) > end
    api.call("DELETE", f"{case['path']}/{held['id']}", 409)
    # Evidence from inside the window stays held back, evidence after it opens an episode.
    assert raise_alert(pid, end - timedelta(microseconds=1)) is None
    assert raise_alert(pid, end + timedelta(minutes=1)).kind == "opened"
    assert [e.action for e in audit_entries("alert_suspension", held["id"])] == [
        "alert_suspension.create",
        "alert_suspension.lift",
        "alert.suppressed",
    ]
    # Lifted, another may be set.
    _suspend(api, case["path"])


def test_a_suspension_is_bounded_and_needs_a_reason(case):
    api, path = case["officer_api"], case["path"]
    max_days = get_alert_settings().suspension_max_days
    error = _suspend(api, path, days=max_days + 0.1, expect=422)["detail"]
    assert f"at most {max_days} days" in error
    assert "not in the future" in _suspend(api, path, days=-0.1, expect=422)["detail"]
    (error,) = _suspend(api, path, reason="   ", expect=422)["detail"]
    assert error["field"] == "reason"
    (error,) = api.call("POST", path, 422, json={"until": (utcnow() + timedelta(days=1)).isoformat()})["detail"]
    assert error["field"] == "reason"
    naive = (utcnow() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    (error,) = api.call("POST", path, 422, json={"until": naive, "reason": "x"})["detail"]
    assert error["field"] == "until" and "timezone" in error["reason"]
    held = _suspend(api, path, days=max_days - 0.01)
    assert f"suspension {held['id']}" in _suspend(api, path, expect=409)["detail"]  # one at a time


def test_who_may_suspend(case, admin_api, portal_url):
    district = case["district"]
    path = case["path"]
    auditor = signed_in_as(portal_url, admin_api.officer(district["id"], role="auditor"))
    stranger = signed_in_as(portal_url, admin_api.officer(district["id"]))  # not their caseload
    supervisor = signed_in_as(portal_url, admin_api.officer(district["id"], role="supervisor"))
    _suspend(auditor, path, expect=403)
    _suspend(stranger, path, expect=404)
    held = _suspend(supervisor, path)
    assert [s["id"] for s in auditor.call("GET", path)] == [held["id"]]
    auditor.call("DELETE", f"{path}/{held['id']}", 403)
    stranger.call("GET", path, 404)
    case["officer_api"].call("DELETE", f"{path}/{held['id']}")


def test_a_silence_that_outlasts_a_suspension_is_reported_from_its_end(case, admin_api):
    pid = case["person"]["id"]
    held = _suspend(case["officer_api"], case["path"])
    # As if suspended three hours ago, and silent for the last two (the watchdog runs meanwhile).
    sql("UPDATE alert_suspension SET from_at = from_at - interval '3 hours' WHERE id = :id", id=held["id"])
    sql(
        "INSERT INTO last_position (supervisee_id, device_id, ts, lat, lon, source)"
        " VALUES (:pid, 0, now() - interval '2 hours', 41.3, 123.77, 'gps')",
        pid=pid,
    )
    with session_scope() as session:
        check_signal_lost(session)
    assert admin_api.call("GET", f"/alerts?supervisee_id={pid}") == []
    (listed,) = case["officer_api"].call("GET", case["path"])
    assert listed["suppressed"][rules.dedup_key(rules.SIGNAL_LOST, pid)]["level"] == "yellow"

    lifted = case["officer_api"].call("DELETE", f"{case['path']}/{held['id']}")
    with session_scope() as session:
        check_signal_lost(session)
    (alert,) = admin_api.call("GET", f"/alerts?supervisee_id={pid}")
    assert alert["rule"] == rules.SIGNAL_LOST and _at(alert["started_at"]) == _at(lifted["ended_at"])

    # The phone is back: the episode ends as usual.
    sql("UPDATE last_position SET ts = now() WHERE supervisee_id = :pid", pid=pid)
    with session_scope() as session:
        check_signal_lost(session)
    assert admin_api.call("GET", f"/alerts/{alert['id']}")["ended_at"] is not None
