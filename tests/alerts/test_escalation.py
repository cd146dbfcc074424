"""Escalation: alerts left unacknowledged past their SLA go to the officer's supervisor (the
watchdog's round, idempotent), officers escalate by hand, and supervisors see and handle them.

Time is simulated by back-dating stored rows; the test platform's own watchdog runs its rounds
meanwhile, so the tests check the outcome, whichever round produced it."""

from datetime import timedelta
from types import SimpleNamespace

import pytest

from caseload import service as caseload_service
from core.db import session_scope
from core.timezones import utcnow
from core.wire import AlertLevel
from tests.alerts.helpers import audit_entries, audit_problems, escalation_round, raise_alert, sql
from tests.factories import signed_in_as


@pytest.fixture
def org(admin_api, portal_url):
    """A root district with a supervisor and a command officer; below it a county with an officer
    (no named supervisor), an auditor and one supervisee of the officer's."""
    root = admin_api.district()
    county = admin_api.district(root["id"])
    staff = {
        "officer": admin_api.officer(county["id"]),
        "auditor": admin_api.officer(county["id"], role="auditor"),
        "supervisor": admin_api.officer(root["id"], role="supervisor"),
        "command": admin_api.officer(root["id"], role="command"),
    }
    person = admin_api.supervisee(county["id"], staff["officer"]["id"])
    apis = {role: signed_in_as(portal_url, officer) for role, officer in staff.items()}
    return SimpleNamespace(root=root, county=county, staff=staff, api=apis, person=person)


def _alert(admin_api, person_id: int) -> dict:
    (alert,) = admin_api.call("GET", f"/alerts?supervisee_id={person_id}")
    return alert


def _backdate(alert_id: int, minutes: int) -> None:
    sql("UPDATE alert SET started_at = started_at - make_interval(mins => :m) WHERE id = :id", m=minutes, id=alert_id)


def _events(api, alert_id: int) -> list[dict]:
    return api.call("GET", f"/alerts/{alert_id}/events")


def test_an_unacknowledged_red_escalates_once_after_its_sla(org, admin_api):
    raise_alert(org.person["id"], utcnow(), AlertLevel.red)
    alert = _alert(admin_api, org.person["id"])
    assert escalation_round(alert["id"]) == []
    _backdate(alert["id"], 14)
    assert escalation_round(alert["id"]) == []
    assert _alert(admin_api, org.person["id"])["escalated_at"] is None

    _backdate(alert["id"], 2)  # 16 minutes: past the red SLA of 15
    escalation_round(alert["id"])
    escalated = _alert(admin_api, org.person["id"])
    assert escalated["escalated_at"] and escalated["escalated_to"] == org.staff["supervisor"]["id"]
    assert escalated["status"] == "open"
    assert escalation_round(alert["id"]) == []  # the next round does nothing
    events = [e for e in _events(admin_api, alert["id"]) if e["kind"] == "escalated"]
    assert len(events) == 1 and events[0]["actor"] == "system"
    assert events[0]["detail"]["to"] == org.staff["supervisor"]["id"]
    assert [e.action for e in audit_entries("alert", alert["id"])] == ["alert.opened", "alert.escalated"]
    assert audit_problems() == []


def test_acknowledged_alerts_and_yellows_within_their_sla_do_not_escalate(org, admin_api):
    pid = org.person["id"]
    raise_alert(pid, utcnow(), AlertLevel.red, key=f"test-red:{pid}")
    raise_alert(pid, utcnow(), AlertLevel.yellow, key=f"test-yellow:{pid}")
    red, yellow = sorted(admin_api.call("GET", f"/alerts?supervisee_id={pid}"), key=lambda a: a["level"])
    org.api["officer"].call("POST", f"/alerts/{red['id']}/ack", json={})
    _backdate(red["id"], 60)
    _backdate(yellow["id"], 23 * 60)
    assert escalation_round(red["id"]) == [] and escalation_round(yellow["id"]) == []
    _backdate(yellow["id"], 61)
    escalation_round(yellow["id"])
    assert admin_api.call("GET", f"/alerts/{yellow['id']}")["escalated_at"] is not None
    assert admin_api.call("GET", f"/alerts/{red['id']}")["escalated_at"] is None


def test_a_yellow_raised_to_red_has_the_red_sla_from_the_raise(org, admin_api):
    pid = org.person["id"]
    start = utcnow()
    raise_alert(pid, start)
    alert = _alert(admin_api, pid)
    _backdate(alert["id"], 40)  # unacknowledged for 40 min as a yellow
    raise_alert(pid, start + timedelta(minutes=1), AlertLevel.red)
    assert escalation_round(alert["id"]) == []  # the officer still has 15 min for the red
    sql(
        "UPDATE alert_event SET at = at - interval '16 minutes' WHERE alert_id = :id AND kind = 'level_raised'",
        id=alert["id"],
    )
    escalation_round(alert["id"])
    assert _alert(admin_api, pid)["escalated_at"] is not None


def test_the_sla_follows_the_persons_policy(org, admin_api):
    admin_api.call(
        "PUT", "/alert-policies", json={"district_id": org.county["id"], "thresholds": {"ack_sla_red_min": 60}}
    )
    raise_alert(org.person["id"], utcnow(), AlertLevel.red)
    alert = _alert(admin_api, org.person["id"])
    _backdate(alert["id"], 30)
    assert escalation_round(alert["id"]) == []
    _backdate(alert["id"], 31)
    escalation_round(alert["id"])
    assert _alert(admin_api, org.person["id"])["escalated_at"] is not None


def test_who_an_alert_escalates_to(org, admin_api):
    def target(officer: dict | None, person: dict = org.person) -> int | None:
        with session_scope() as session:
            return caseload_service.escalation_target(
                session=session, officer_id=officer["id"] if officer else None, supervisee_id=person["id"]
            )

    officer, supervisor, command = org.staff["officer"], org.staff["supervisor"], org.staff["command"]
    assert target(officer) == supervisor["id"]  # nearest ancestor district's supervisor
    assert target(None) == supervisor["id"]  # unassigned: searched from the person's district
    assert target(supervisor) == command["id"]  # a supervisor's alerts go to command
    assert target(command) is None
    local = admin_api.officer(org.county["id"], role="supervisor")
    assert target(officer) == local["id"]  # the officer's own district first
    named = admin_api.officer(admin_api.district()["id"], role="officer")
    admin_api.call("PATCH", f"/officers/{officer['id']}", json={"supervisor_id": named["id"]})
    assert target(officer) == named["id"]  # a named supervisor comes before the rule
    admin_api.call("PATCH", f"/officers/{named['id']}", json={"active": False})
    assert target(officer) == local["id"]
    lonely = admin_api.district()
    assert target(None, admin_api.supervisee(lonely["id"])) is None


def test_an_alert_with_nobody_above_is_still_marked_escalated(admin_api):
    district = admin_api.district()
    person = admin_api.supervisee(district["id"], admin_api.officer(district["id"])["id"])
    raise_alert(person["id"], utcnow(), AlertLevel.red)
    alert = _alert(admin_api, person["id"])
    _backdate(alert["id"], 20)
    escalation_round(alert["id"])
    escalated = _alert(admin_api, person["id"])
    assert escalated["escalated_at"] is not None and escalated["escalated_to"] is None


def test_an_officer_escalates_by_hand(org, admin_api):
    raise_alert(org.person["id"], utcnow())
    alert = _alert(admin_api, org.person["id"])
    officer = org.api["officer"]
    officer.call("POST", f"/alerts/{alert['id']}/ack", json={})
    org.api["auditor"].call("POST", f"/alerts/{alert['id']}/escalate", 403, json={})
    escalated = officer.call("POST", f"/alerts/{alert['id']}/escalate", json={"note": "拒接电话 will not answer"})
    assert escalated["escalated_to"] == org.staff["supervisor"]["id"] and escalated["status"] == "acknowledged"
    (event,) = [e for e in _events(officer, alert["id"]) if e["kind"] == "escalated"]
    assert event["actor"] == f"officer:{org.staff['officer']['id']}" and event["detail"]["note"].startswith("拒接")
    assert "already escalated" in officer.call("POST", f"/alerts/{alert['id']}/escalate", 409, json={})["detail"]
    assert escalation_round(alert["id"]) == []


def test_a_supervisor_escalating_passes_it_further_up(org, admin_api):
    raise_alert(org.person["id"], utcnow())
    alert = _alert(admin_api, org.person["id"])
    escalated = org.api["supervisor"].call("POST", f"/alerts/{alert['id']}/escalate", json={})
    assert escalated["escalated_to"] == org.staff["command"]["id"]


def test_resolved_alerts_cannot_be_escalated(org, admin_api):
    raise_alert(org.person["id"], utcnow())
    alert = _alert(admin_api, org.person["id"])
    org.api["officer"].call("POST", f"/alerts/{alert['id']}/resolve", json={"disposition": "false_alarm"})
    error = org.api["officer"].call("POST", f"/alerts/{alert['id']}/escalate", 409, json={})
    assert "resolved" in error["detail"]


def test_the_supervisor_sees_and_handles_what_was_escalated_to_them(org, admin_api, portal_url):
    # A named supervisor outside the officer's districts still sees what is escalated to them.
    outsider = admin_api.officer(admin_api.district()["id"], role="supervisor")
    admin_api.call("PATCH", f"/officers/{org.staff['officer']['id']}", json={"supervisor_id": outsider["id"]})
    outsider_api = signed_in_as(portal_url, outsider)
    raise_alert(org.person["id"], utcnow(), AlertLevel.red)
    alert = _alert(admin_api, org.person["id"])
    outsider_api.call("GET", f"/alerts/{alert['id']}", 404)
    org.api["officer"].call("POST", f"/alerts/{alert['id']}/escalate", json={"note": "help"})

    assert [a["id"] for a in outsider_api.call("GET", "/alerts?escalated=true")] == [alert["id"]]
    assert outsider_api.call("GET", "/alerts?escalated=false") == []
    supervisor_sees = org.api["supervisor"].call("GET", "/alerts?escalated=true")
    assert alert["id"] in [a["id"] for a in supervisor_sees]  # the district's supervisor too
    unescalated = org.api["officer"].call("GET", "/alerts?escalated=false")
    assert alert["id"] not in [a["id"] for a in unescalated]
    resolved = outsider_api.call("POST", f"/alerts/{alert['id']}/resolve", json={"disposition": "other"})
    assert resolved["resolved_by"] == outsider["id"]


@pytest.mark.parametrize(
    ("role", "expect"),
    [("officer", 200), ("supervisor", 200), ("command", 200), ("admin", 200), ("auditor", 403), ("stranger", 404)],
)
def test_who_may_handle_an_alert(org, admin_api, portal_url, role, expect):
    apis = org.api | {"admin": admin_api, "stranger": signed_in_as(portal_url, admin_api.officer(org.county["id"]))}
    api = apis[role]
    raise_alert(org.person["id"], utcnow())
    alert_id = _alert(admin_api, org.person["id"])["id"]
    api.call("POST", f"/alerts/{alert_id}/ack", expect, json={})
    api.call("POST", f"/alerts/{alert_id}/escalate", expect, json={})
    api.call("POST", f"/alerts/{alert_id}/resolve", expect, json={"disposition": "other"})
    if expect == 200:
        kinds = [e["kind"] for e in _events(api, alert_id)]
        assert kinds == ["opened", "acknowledged", "escalated", "resolved"]
        api.call("POST", f"/alerts/{alert_id}/ack", 409, json={})
        api.call("POST", f"/alerts/{alert_id}/resolve", 409, json={"disposition": "other"})


def test_a_round_escalates_a_chunk_at_a_time_and_each_alert_once(org, admin_api):
    # A round takes at most ``limit`` alerts per transaction, so it never holds the audit chain long.
    pid = org.person["id"]
    for n in range(3):
        raise_alert(pid, utcnow(), AlertLevel.red, key=f"test-chunk:{pid}:{n}")
    alerts = admin_api.call("GET", f"/alerts?supervisee_id={pid}")
    for alert in alerts:
        _backdate(alert["id"], 16)
    while changes := escalation_round(*(a["id"] for a in alerts), limit=1):
        assert len(changes) == 1
    for alert in alerts:
        events = [e for e in _events(admin_api, alert["id"]) if e["kind"] == "escalated"]
        assert len(events) == 1
