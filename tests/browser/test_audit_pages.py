"""The auditor's pages in Chromium: alert history with every transition, its search and exports, the
audit log, who looked at whose track, the chain's status; read-only; other roles kept out."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from core.wire import AlertLevel
from tests.alerts.helpers import raise_alert
from tests.browser.session import sign_in
from tests.factories import signed_in_as, unique

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-oversight"


@pytest.fixture(scope="module")
def audited(admin_api, portal_url):
    # A county under a city: its auditor sees the entries of its own subtree only.
    district = admin_api.district(admin_api.district()["id"])
    officer = admin_api.officer(district["id"])
    staff = {role: admin_api.officer(district["id"], role=role) for role in ("auditor", "command")}
    person = admin_api.supervisee(district["id"], officer["id"])
    quiet = admin_api.supervisee(district["id"], officer["id"])
    now = datetime.now(UTC)
    # Within the red SLA (15 min): the watchdog must not escalate it before the officer acknowledges.
    raise_alert(person["id"], now - timedelta(minutes=5), AlertLevel.red, key=unique("page:"))
    raise_alert(quiet["id"], now - timedelta(minutes=1), AlertLevel.yellow, key=unique("page:"))
    api = signed_in_as(portal_url, officer)
    (red,) = api.call("GET", f"/alerts?supervisee_id={person['id']}")
    api.call("POST", f"/alerts/{red['id']}/ack", json={"note": "已到现场 on site"})
    api.call("POST", f"/alerts/{red['id']}/resolve", json={"disposition": "confirmed_violation", "note": "违规"})
    api.call("GET", f"/supervisees/{person['id']}/track")
    return {"officer": officer, "person": person, "quiet": quiet, "red": red, **staff}


def test_alert_history_search_and_exports(page, portal_url, audited):
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, audited["auditor"]["username"])
    page.goto(f"{portal_url}/audit")
    assert page.locator("#alert-history tbody.alert").count() == 2
    page.screenshot(path=f"{SHOTS}/audit-history-1366.png", full_page=True)
    # Read-only: the search is the page's only button, besides signing out.
    assert page.locator("main button").count() == 1

    page.fill("input[name=person]", audited["person"]["code"])
    page.select_option("select[name=status]", "resolved")
    page.click("form.search button[type=submit]")
    page.wait_for_url("**/audit?*")
    (alert,) = page.locator("#alert-history tbody.alert").all()
    transitions = alert.locator("tr.transitions li")
    assert [li.get_attribute("data-kind") for li in transitions.all()] == ["opened", "acknowledged", "resolved"]
    assert "已到现场 on site" in transitions.nth(1).inner_text()
    assert audited["officer"]["username"] in transitions.nth(1).inner_text()

    # The links are the page's own: fetched with the browser's session cookie.
    csv_answer = page.request.get(portal_url + page.get_attribute("#export-csv", "href"))
    rows = list(csv.DictReader(io.StringIO(csv_answer.text())))
    assert [r["event"] for r in rows] == ["opened", "acknowledged", "resolved"]
    assert rows[2]["note"] == "违规"
    exported = json.loads(page.request.get(portal_url + page.get_attribute("#export-json", "href")).text())
    assert [x["id"] for x in exported] == [audited["red"]["id"]]

    page.set_viewport_size({"width": 768, "height": 1024})
    page.screenshot(path=f"{SHOTS}/audit-history-768.png", full_page=True)


def test_track_reads_log_and_chain(page, portal_url, audited):
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, audited["auditor"]["username"])
    page.goto(f"{portal_url}/audit/tracks")
    rows = page.locator("#track-reads tbody tr")
    assert rows.count() == 1
    assert audited["person"]["code"] in rows.first.inner_text()
    assert audited["officer"]["username"] in rows.first.inner_text()
    page.screenshot(path=f"{SHOTS}/audit-tracks-1366.png", full_page=True)

    page.goto(f"{portal_url}/audit/log?actor=officer:{audited['officer']['id']}")
    actions = [td.inner_text() for td in page.locator("#audit-log tbody tr td:nth-child(4)").all()]
    assert "auth.sign_in" in actions and "supervisee.track_read" in actions
    page.screenshot(path=f"{SHOTS}/audit-log-1366.png", full_page=True)

    page.goto(f"{portal_url}/audit/chain")
    page.wait_for_selector("#chain-status[data-state=intact]")
    assert page.inner_text("#chain-sealed").startswith("#")
    assert page.locator("main button").count() == 0
    page.screenshot(path=f"{SHOTS}/audit-chain-1366.png", full_page=True)


def test_command_reads_the_history_but_not_the_chain(page, portal_url, audited):
    sign_in(page, portal_url, audited["command"]["username"])
    assert page.locator("header nav a[href='/audit']").count() == 1
    page.goto(f"{portal_url}/audit")
    assert page.locator("#alert-history tbody.alert").count() == 2
    assert page.locator(".subnav a").count() == 1
    for path in ("/audit/log", "/audit/tracks", "/audit/chain"):
        assert page.goto(f"{portal_url}{path}").status == 403
    # Officers are kept out of every oversight page: tests/browser/test_admin_pages.py.
