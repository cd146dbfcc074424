"""The alert history for auditors and the command centre: every alert of their districts with every
transition, searched, and exported as streamed CSV or JSON; the export is audited; officers get 403."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from core.wire import AlertLevel
from tests.alerts.helpers import raise_alert
from tests.factories import signed_in_as, unique


@pytest.fixture(scope="module")
def history(admin_api, portal_url):
    """County A: a red alert acknowledged with a note and resolved, a yellow one left open; county B:
    one alert its own auditor sees and A's does not."""
    a, b = admin_api.district(), admin_api.district()
    officer = admin_api.officer(a["id"])
    staff = {
        "officer": officer,
        "auditor": admin_api.officer(a["id"], role="auditor"),
        "command": admin_api.officer(a["id"], role="command"),
        "auditor_b": admin_api.officer(b["id"], role="auditor"),
    }
    api = {name: signed_in_as(portal_url, o) for name, o in staff.items()}
    wang = admin_api.supervisee(a["id"], officer["id"])
    li = admin_api.supervisee(a["id"], officer["id"])
    other = admin_api.supervisee(b["id"], admin_api.officer(b["id"])["id"])
    now = datetime.now(UTC)
    # Within the red SLA (15 min): the watchdog must not escalate it before the officer acknowledges.
    raise_alert(wang["id"], now - timedelta(minutes=8), AlertLevel.red, key=unique("hist:"))
    raise_alert(li["id"], now - timedelta(minutes=1), AlertLevel.yellow, key=unique("hist:"))
    raise_alert(other["id"], now - timedelta(minutes=1), AlertLevel.red, key=unique("hist:"))
    (red,) = api["officer"].call("GET", f"/alerts?supervisee_id={wang['id']}")
    api["officer"].call("POST", f"/alerts/{red['id']}/ack", json={"note": "已电话联系 phoned him"})
    api["officer"].call("POST", f"/alerts/{red['id']}/resolve", json={"disposition": "confirmed_violation"})
    return {"a": a, "wang": wang, "li": li, "other": other, "red": red, "api": api, "staff": staff}


def test_json_export_has_every_transition_with_who_and_note(history):
    exported = history["api"]["auditor"].call("GET", "/audit/alerts")
    assert [x["supervisee_id"] for x in exported] == [history["li"]["id"], history["wang"]["id"]]
    red = exported[1]
    assert (red["level"], red["status"], red["disposition"]) == ("red", "resolved", "confirmed_violation")
    assert red["person_code"] == history["wang"]["code"] and red["person_district_id"] == history["a"]["id"]
    assert [e["kind"] for e in red["events"]] == ["opened", "acknowledged", "resolved"]
    ack = red["events"][1]
    assert ack["detail"]["note"] == "已电话联系 phoned him"
    assert ack["actor"] == f"officer:{history['staff']['officer']['id']}"
    assert history["staff"]["officer"]["username"] in ack["actor_name"]
    assert red["events"][0]["actor_name"] == "系统 system"


def test_search_by_person_level_status_and_time(history):
    auditor = history["api"]["auditor"]

    def ids(**query):
        return [x["id"] for x in auditor.call("GET", "/audit/alerts", params=query)]

    assert ids(person=history["wang"]["code"].lower()) == [history["red"]["id"]]
    assert ids(level="red") == [history["red"]["id"]]
    assert len(ids(status="open")) == 1 and ids(status="resolved") == [history["red"]["id"]]
    assert len(ids(officer_id=history["staff"]["officer"]["id"], district_id=history["a"]["id"])) == 2
    # After the red alert started (8 min before set-up), before the yellow one (1 min before).
    between = (datetime.fromisoformat(history["red"]["started_at"]) + timedelta(minutes=3)).isoformat()
    assert ids(to=between) == [history["red"]["id"]]
    assert "before" in auditor.call("GET", "/audit/alerts", 422, params={"from": between, "to": between})["detail"]


def test_csv_export_is_one_row_per_transition_and_audited(history):
    auditor = history["api"]["auditor"]
    response = auditor.client.get("/api/v1/audit/alerts", params={"person": history["wang"]["code"], "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["event"] for r in rows] == ["opened", "acknowledged", "resolved"]
    assert rows[1]["note"] == "已电话联系 phoned him" and rows[0]["started_at"].endswith("+08:00")
    assert {r["alert_id"] for r in rows} == {str(history["red"]["id"])}
    exports = auditor.call(
        "GET",
        "/audit",
        params={"actor": f"officer:{history['staff']['auditor']['id']}", "action": "audit.alert_export"},
    )["entries"]
    assert exports[-1]["detail"] == {"query": {"person": history["wang"]["code"]}, "format": "csv"}


def test_scope_and_roles(history):
    # Another county's auditor sees its own alert only; command reads the history; an officer may not.
    assert [x["supervisee_id"] for x in history["api"]["auditor_b"].call("GET", "/audit/alerts")] == [
        history["other"]["id"]
    ]
    assert len(history["api"]["command"].call("GET", "/audit/alerts")) == 2
    assert "requires role" in history["api"]["officer"].call("GET", "/audit/alerts", 403)["detail"]
    # A district out of the caller's scope is not revealed.
    other_district = history["other"]["district_id"]
    history["api"]["auditor"].call("GET", "/audit/alerts", 404, params={"district_id": other_district})
