"""The platform's own outage is not the supervisees' fault (issue #12): silence is measured without
outage windows, nothing new is raised while one is open, acknowledgement clocks stop over them, a
whole district or gateway gone silent is one platform alert to command staff, a device that never
reported is silent from its registration, and stale heartbeats open windows.

Time is simulated by back-dating stored rows. The test platform's own watchdog runs its rounds
meanwhile (every role beats normally, so it records no outage of its own): the tests check the
outcome, whichever round produced it. Windows a test declares are removed when it ends, since every
person's silence is measured against them."""

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from alerts import outage, rules
from alerts.watchdog import check_signal_lost
from core.db import new_session, session_scope
from core.timezones import utcnow
from core.wire import AlertLevel
from tests.alerts.helpers import audit_entries, audit_problems, escalation_round, raise_alert, sql
from tests.factories import signed_in_as


@pytest.fixture
def declare_outage():
    """Declare a maintenance window (minutes before now; ``until`` None: still open), removed afterwards."""
    ids = []

    def declare(from_min: int, until_min: int | None) -> int:
        (row,) = sql(
            "INSERT INTO platform_outage (cause, started_at, ended_at)"
            " VALUES (:cause, now() - make_interval(mins => :a), now() - make_interval(mins => :b)) RETURNING id",
            cause=f"maintenance-{len(ids)}",
            a=from_min,
            b=until_min,
        )
        ids.append(row.id)
        return row.id

    yield declare
    sql("DELETE FROM platform_outage WHERE id = ANY(:ids)", ids=ids)


def _silent(person_id: int, minutes: int) -> None:
    sql(
        "INSERT INTO last_position (supervisee_id, device_id, ts, lat, lon, source)"
        " VALUES (:pid, 0, now() - make_interval(mins => :m), 41.3, 123.77, 'gps')"
        " ON CONFLICT (supervisee_id) DO UPDATE SET ts = EXCLUDED.ts",
        pid=person_id,
        m=minutes,
    )


def _round() -> None:
    with session_scope() as session:
        check_signal_lost(session)


def _alerts(api, person_id: int) -> list[dict]:
    return api.call("GET", f"/alerts?supervisee_id={person_id}")


@pytest.fixture
def person(admin_api):
    district = admin_api.district()
    return admin_api.supervisee(district["id"], admin_api.officer(district["id"])["id"])


def test_a_silence_over_an_outage_counts_without_it(person, admin_api, declare_outage):
    pid = person["id"]
    window = declare_outage(60, 20)  # 40 of the 70 silent minutes were the platform's
    _silent(pid, 70)
    _round()
    assert _alerts(admin_api, pid) == []

    sql("DELETE FROM platform_outage WHERE id = :id", id=window)  # the same silence, no outage
    _round()
    (alert,) = _alerts(admin_api, pid)
    assert (alert["rule"], alert["level"]) == (rules.SIGNAL_LOST, "yellow")
    assert alert["evidence"]["first"]["silent_min"] >= 69


def test_no_new_signal_lost_alert_while_an_outage_is_open(person, admin_api, declare_outage):
    pid = person["id"]
    window = declare_outage(5, None)
    _silent(pid, 3 * 60)
    _round()
    assert _alerts(admin_api, pid) == []

    sql("UPDATE platform_outage SET ended_at = now() WHERE id = :id", id=window)
    _round()
    (alert,) = _alerts(admin_api, pid)
    assert alert["level"] == "yellow" and alert["evidence"]["first"]["platform_outage_min"] == 5


@pytest.fixture
def org(admin_api, portal_url):
    """A root district with a command officer; below it a county with its own command officer, a
    supervisor and an officer with a caseload of six, each with a registered phone."""
    root = admin_api.district()
    county = admin_api.district(root["id"])
    staff = {
        "officer": admin_api.officer(county["id"]),
        "supervisor": admin_api.officer(county["id"], role="supervisor"),
        "command": admin_api.officer(county["id"], role="command"),
        "root_command": admin_api.officer(root["id"], role="command"),
    }
    people = [admin_api.supervisee(county["id"], staff["officer"]["id"]) for _ in range(6)]
    for p in people:
        admin_api.device(p["id"])
    apis = {role: signed_in_as(portal_url, officer) for role, officer in staff.items()}
    return SimpleNamespace(root=root, county=county, staff=staff, api=apis, people=people)


def test_an_escalation_deadline_waits_out_an_outage(org, admin_api, declare_outage):
    pid = org.people[0]["id"]
    raise_alert(pid, utcnow(), AlertLevel.red)
    (alert,) = _alerts(admin_api, pid)
    declare_outage(10, 5)  # five of the next minutes the platform was out

    sql("UPDATE alert SET started_at = started_at - interval '16 minutes' WHERE id = :id", id=alert["id"])
    assert escalation_round(alert["id"]) == []  # 16 minutes, 5 of them an outage: due in 4 more
    assert admin_api.call("GET", f"/alerts/{alert['id']}")["escalated_at"] is None
    sql("UPDATE alert SET started_at = started_at - interval '5 minutes' WHERE id = :id", id=alert["id"])
    escalation_round(alert["id"])
    assert admin_api.call("GET", f"/alerts/{alert['id']}")["escalated_to"] == org.staff["supervisor"]["id"]


def _silent_together(people: list[dict], minutes: int) -> None:
    """Everyone's last fix about ``minutes`` ago, a few seconds apart, in one transaction."""
    sql(
        "INSERT INTO last_position (supervisee_id, device_id, ts, lat, lon, source)"
        " SELECT pid, 0, now() - make_interval(mins => :m) + n * interval '7 seconds', 41.3, 123.77, 'gps'"
        " FROM unnest(CAST(:pids AS int[])) WITH ORDINALITY AS t(pid, n)"
        " ON CONFLICT (supervisee_id) DO UPDATE SET ts = EXCLUDED.ts",
        pids=[p["id"] for p in people],
        m=minutes,
    )


def _platform_alerts(api, rule: str) -> list[dict]:
    return [a for a in api.call("GET", "/alerts") if a["rule"] == rule]


@pytest.mark.parametrize("through_gateway", [False, True], ids=["district", "gateway"])
def test_a_whole_caseload_silent_at_once_is_one_platform_alert(org, admin_api, through_gateway):
    gateway = None
    if through_gateway:
        gateway = admin_api.call("POST", "/gateways", 201, json={"name": "vendor", "district_id": org.root["id"]})
    rule, district = (rules.GATEWAY_SILENT, org.root) if gateway else (rules.DISTRICT_SILENT, org.county)
    try:
        _silent_together(org.people, 90)
        _round()
        (alert,) = [a for a in _platform_alerts(admin_api, rule) if a["district_id"] == district["id"]]
        assert alert["supervisee_id"] is None and alert["district_id"] == district["id"]
        assert alert["gateway_id"] == (gateway["id"] if gateway else None)
        assert alert["level"] == "red" and alert["evidence"]["first"]["silent"] == len(org.people)
        for person in org.people:  # held back: no personal alerts
            assert _alerts(admin_api, person["id"]) == []
        # Command staff of the district see it; the officer of the people does not.
        command = org.api["command"] if not gateway else org.api["root_command"]
        assert [a["id"] for a in _platform_alerts(command, rule)] == [alert["id"]]
        assert _platform_alerts(org.api["officer"], rule) == []
        org.api["officer"].call("GET", f"/alerts/{alert['id']}", 404)

        _silent_together(org.people, 0)  # they report again
        _round()
        ended = admin_api.call("GET", f"/alerts/{alert['id']}")
        assert ended["ended_at"] is not None
        # (Opened 80 minutes "ago", it is overdue at once: the platform's watchdog may escalate it.)
        actions = [e.action for e in audit_entries("alert", alert["id"]) if e.action != "alert.escalated"]
        assert actions == ["alert.opened", "alert.ended"]
        assert audit_problems() == []
        for person in org.people:
            assert _alerts(admin_api, person["id"]) == []
    finally:
        if gateway:
            admin_api.call("DELETE", f"/gateways/{gateway['id']}", 204)


def test_a_platform_alert_escalates_to_the_next_command_officer(org, admin_api):
    _silent_together(org.people, 90)
    _round()
    (alert,) = [a for a in _platform_alerts(admin_api, rules.DISTRICT_SILENT) if a["district_id"] == org.county["id"]]
    assert alert["assignee_id"] == org.staff["command"]["id"]
    sql("UPDATE alert SET started_at = started_at - interval '16 minutes' WHERE id = :id", id=alert["id"])
    escalation_round(alert["id"])
    assert admin_api.call("GET", f"/alerts/{alert['id']}")["escalated_to"] == org.staff["root_command"]["id"]
    _silent_together(org.people, 0)
    _round()


def test_a_device_that_never_reported_is_silent_from_its_registration(person, admin_api):
    pid = person["id"]
    device = admin_api.device(pid)
    _round()
    assert _alerts(admin_api, pid) == []  # just registered: within the grace

    sql("UPDATE device SET created_at = now() - interval '61 minutes' WHERE id = :id", id=device["id"])
    _round()
    (alert,) = _alerts(admin_api, pid)
    assert (alert["rule"], alert["level"]) == (rules.SIGNAL_LOST, "yellow")
    assert "device_registered_at" in alert["evidence"]["first"]
    _silent(pid, 0)  # it reports at last
    _round()
    assert admin_api.call("GET", f"/alerts/{alert['id']}")["ended_at"] is not None


def _at(session, sql_expression: str) -> datetime:
    return session.execute(text(f"SELECT {sql_expression}")).scalar_one()


def test_a_stale_persist_heartbeat_opens_an_outage_window(platform):
    """All in one transaction, rolled back: the real persist worker's next beat waits for it."""
    session = new_session()
    try:
        assert not {c for c in outage.open_causes(session=session) if c in outage.OBSERVED}
        stale = _at(session, "now() - interval '10 minutes'")
        session.execute(text("UPDATE process_heartbeat SET beat_at = :at WHERE role = 'persist'"), {"at": stale})
        assert "persist_down" in outage.observe(session=session, lags={"persist": 0})
        (window,) = outage.windows(session=session, since=stale, until=utcnow())
        assert window == (stale, None)
    finally:
        session.rollback()
        session.close()


def test_an_ingest_gap_while_the_watchdog_was_down_is_recorded_when_it_is_back(platform):
    """An ingest process that stopped beating 40 minutes ago, replaced by today's; the watchdog's own
    previous round an hour ago: the stretch nobody took fixes is recorded as a closed window."""
    session = new_session()
    try:
        now = utcnow()
        session.execute(
            text(
                "INSERT INTO process_heartbeat (process, role, started_at, beat_at, pid)"
                " VALUES ('ingest@gone:1', 'ingest', :started, :beat, 1)"
            ),
            {"started": now - timedelta(minutes=90), "beat": now - timedelta(minutes=40)},
        )
        session.execute(text("UPDATE watchdog_round SET at = :at"), {"at": now - timedelta(hours=1)})
        # Persist ran all along (this test session's worker started a minute ago: as if two hours).
        session.execute(
            text("UPDATE process_heartbeat SET started_at = :at WHERE role = 'persist'"),
            {"at": now - timedelta(hours=2)},
        )
        session.execute(
            text("UPDATE process_heartbeat SET started_at = :at WHERE role = 'ingest' AND process <> 'ingest@gone:1'"),
            {"at": now - timedelta(minutes=3)},
        )
        outage.observe(session=session, lags={"persist": 0})
        assert outage.windows(session=session, since=now - timedelta(hours=1), until=now) == [
            (now - timedelta(minutes=40), now - timedelta(minutes=3))
        ]
    finally:
        session.rollback()
        session.close()
