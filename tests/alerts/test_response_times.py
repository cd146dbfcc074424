"""Officers' response times on a small, known set of alerts: counts, median and 90th percentile
minutes to the answer, answers within the SLA, escalations, and who may see which officers."""

from datetime import timedelta

import pytest

from core.timezones import utcnow
from core.wire import AlertLevel
from tests.alerts.helpers import raise_alert, sql
from tests.factories import signed_in_as


@pytest.fixture
def known(admin_api, portal_url):
    """Officer A: reds answered after 10 and 20 min, a yellow resolved (without acknowledging) after
    60 min, and a yellow still open that A escalated. Officer B: a red answered after 5 min."""
    root = admin_api.district()
    county = admin_api.district(root["id"])
    a, b = admin_api.officer(county["id"]), admin_api.officer(county["id"])
    apis = {"a": signed_in_as(portal_url, a), "b": signed_in_as(portal_url, b)}
    people = {"a": admin_api.supervisee(county["id"], a["id"]), "b": admin_api.supervisee(county["id"], b["id"])}

    def alert(who: str, n: int, level: AlertLevel) -> int:
        pid = people[who]["id"]
        return raise_alert(pid, utcnow(), level, key=f"response-times:{pid}:{n}").alert_id

    def answered(who: str, alert_id: int, minutes: int, how: str = "ack") -> None:
        if how == "ack":
            apis[who].call("POST", f"/alerts/{alert_id}/ack", json={})
        else:
            apis[who].call("POST", f"/alerts/{alert_id}/resolve", json={"disposition": "false_alarm"})
        column = "acknowledged_at" if how == "ack" else "resolved_at"
        sql(
            f"UPDATE alert SET started_at = {column} - make_interval(mins => :m) WHERE id = :id", m=minutes, id=alert_id
        )

    answered("a", alert("a", 1, AlertLevel.red), 10)
    answered("a", alert("a", 2, AlertLevel.red), 20)
    answered("a", alert("a", 3, AlertLevel.yellow), 60, how="resolve")
    apis["a"].call("POST", f"/alerts/{alert('a', 4, AlertLevel.yellow)}/escalate", json={})
    answered("b", alert("b", 1, AlertLevel.red), 5)
    return {"root": root, "county": county, "a": a, "b": b, "apis": apis}


def _report(api, expect: int = 200, **params):
    window = {"since": (utcnow() - timedelta(days=1)).isoformat(), "until": (utcnow() + timedelta(days=1)).isoformat()}
    return api.call("GET", "/reports/response-times", expect, params=window | params)


def _figures(rows: list[dict]) -> dict[int, dict]:
    return {
        r["officer_id"]: {k: v for k, v in r.items() if k not in ("officer_id", "username", "full_name")} for r in rows
    }


def test_the_numbers_on_a_known_set(known, admin_api, portal_url):
    supervisor = signed_in_as(portal_url, admin_api.officer(known["county"]["id"], role="supervisor"))
    figures = _figures(_report(supervisor))
    assert figures == {
        known["a"]["id"]: {
            "assigned": 4,
            "acknowledged": 3,
            "median_min": pytest.approx(20),
            "p90_min": pytest.approx(52),  # 20 + 0.8 × (60 − 20), interpolated like percentile_cont
            "resolved": 1,
            "resolve_median_min": pytest.approx(60),
            "resolve_p90_min": pytest.approx(60),
            "within_sla": 2,  # red in 10 of 15 min, yellow in 60 of 1440; not the red in 20
            "overdue": 1,  # the red in 20; the escalated yellow has a day
            "escalated": 1,
            "still_open": 1,
        },
        known["b"]["id"]: {
            "assigned": 1,
            "acknowledged": 1,
            "median_min": pytest.approx(5),
            "p90_min": pytest.approx(5),
            "resolved": 0,
            "resolve_median_min": None,
            "resolve_p90_min": None,
            "within_sla": 1,
            "overdue": 0,
            "escalated": 0,
            "still_open": 0,
        },
    }
    later = (utcnow() + timedelta(hours=1)).isoformat()
    assert _report(supervisor, since=later) == []


def test_who_sees_which_officers(known, admin_api, portal_url):
    a, b = known["a"]["id"], known["b"]["id"]
    assert [r["officer_id"] for r in _report(known["apis"]["a"], district_id=known["root"]["id"])] == [a]
    auditor = signed_in_as(portal_url, admin_api.officer(known["county"]["id"], role="auditor"))
    assert [r["officer_id"] for r in _report(auditor)] == [a, b]
    command = signed_in_as(portal_url, admin_api.officer(known["root"]["id"], role="command"))
    assert [r["officer_id"] for r in _report(command, district_id=known["county"]["id"])] == [a, b]
    _report(command, 404, district_id=admin_api.district()["id"])
    other = signed_in_as(portal_url, admin_api.officer(admin_api.district()["id"], role="supervisor"))
    assert _report(other) == []
    assert [r["officer_id"] for r in _report(admin_api, district_id=known["county"]["id"])] == [a, b]


def test_the_window_must_be_in_order(known):
    now = utcnow()
    error = _report(known["apis"]["a"], 422, since=now.isoformat(), until=(now - timedelta(hours=1)).isoformat())
    assert "before" in error["detail"]
