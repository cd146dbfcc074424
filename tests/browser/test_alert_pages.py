"""The alert queue (sort, filter, live arrival), an alert's page (map, timeline, the actions and who
may take them) in real Chromium. Alerts are raised as the alerts worker raises them and announced on
alerts.v1 as it does, so that no test waits for the whole pipeline."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core.timezones import display_tz, utcnow
from core.wire import AlertLevel
from tests.alerts.helpers import announce, apply_zone_events, exit_event, raise_alert
from tests.browser.signed_in import signed_in_page

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-alerts"
LIVE_MS = 30_000


@pytest.fixture(scope="module")
def office(admin_api):
    """A district with an officer, their supervisor, an auditor; three people, two with a home zone;
    a red exit, a yellow exit and a yellow signal-lost alert, started 40, 20 and 10 minutes ago."""
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    supervisor = admin_api.officer(district["id"], role="supervisor")
    auditor = admin_api.officer(district["id"], role="auditor")
    people = [admin_api.supervisee(district["id"], officer["id"]) for _ in range(3)]
    zones = [admin_api.home_zone(p["id"])["id"] for p in people[:2]]
    now = utcnow().replace(microsecond=0)
    started = now - timedelta(minutes=40)
    apply_zone_events(
        exit_event(people[0]["id"], zones[0], "opened", started + timedelta(minutes=1), started),
        exit_event(people[0]["id"], zones[0], "evidence", now - timedelta(minutes=2), started),
        exit_event(people[1]["id"], zones[1], "opened", now - timedelta(minutes=20), now - timedelta(minutes=21)),
    )
    raise_alert(people[2]["id"], now - timedelta(minutes=10), AlertLevel.yellow)
    return {
        "district": district,
        "officer": officer,
        "supervisor": supervisor,
        "auditor": auditor,
        "people": people,
        "alerts": [admin_api.call("GET", f"/alerts?supervisee_id={p['id']}")[0] for p in people],
        "api": admin_api,
    }


def queue_ids(page) -> list[int]:
    return [int(i) for i in page.locator("#alert-queue tbody tr").evaluate_all("rs => rs.map(r => r.dataset.alertId)")]


def test_the_queue_puts_red_first_and_sorts_and_filters_on_the_server(browser, portal_url, office):
    red, yellow_exit, silent = (a["id"] for a in office["alerts"])
    with signed_in_page(browser, portal_url, office["officer"]["username"]) as page:
        page.goto(f"{portal_url}/alerts")
        assert queue_ids(page) == [red, silent, yellow_exit]  # red first, then newest first
        page.screenshot(path=f"{SHOTS}/queue.png")

        page.get_by_role("link", name="开始 Started").click()  # newest first
        assert queue_ids(page) == [silent, yellow_exit, red]
        page.get_by_role("link", name="开始 Started ▼").click()  # and back: oldest first
        assert queue_ids(page) == [red, yellow_exit, silent]

        page.get_by_label("级别 Level").select_option("yellow")
        page.get_by_label("规则 Rule").select_option("inclusion_exit")
        page.get_by_role("button", name="筛选 Filter").click()
        assert queue_ids(page) == [yellow_exit]
        assert "level=yellow" in page.url and "rule=inclusion_exit" in page.url

        page.goto(f"{portal_url}/alerts?status=resolved")
        expect(page.locator("#no-alerts")).to_be_visible()
        page.goto(f"{portal_url}/alerts?from=2030-01-01T00:00&to=2020-01-01T00:00")
        expect(page.get_by_role("alert")).to_contain_text("'from' must be before 'to'")


def test_a_new_alert_arrives_live_in_an_open_queue(browser, portal_url, office):
    with signed_in_page(browser, portal_url, office["supervisor"]["username"]) as page:
        page.goto(f"{portal_url}/alerts")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
        page.evaluate("window.sameDocument = true")
        page.get_by_role("button", name="开启声音和通知 Sound & notifications").click()

        person = office["people"][0]
        changes = [raise_alert(person["id"], utcnow(), AlertLevel.red, key=f"test_red:{person['id']}")]
        announce(changes)
        row = page.locator(f'#alert-queue tr[data-alert-id="{changes[0].alert_id}"]')
        expect(row).to_be_visible(timeout=LIVE_MS)
        expect(row).to_contain_text(person["code"])
        expect(page.locator(".toast.red", has_text=person["code"])).to_be_visible()
        assert queue_ids(page)[0] == changes[0].alert_id  # red, newest: on top
        assert page.evaluate("window.sameDocument") is True


def test_the_alert_page_shows_its_map_timeline_and_replay_link(browser, portal_url, office):
    alert = office["alerts"][0]
    with signed_in_page(browser, portal_url, office["officer"]["username"]) as page:
        page.goto(f"{portal_url}/alerts/{alert['id']}")
        expect(page.locator("#alert-level")).to_have_text("红 red")
        expect(page.locator("#person-link")).to_have_attribute("href", f"/supervisees/{alert['supervisee_id']}")
        expect(page.locator("#alert-timeline li[data-kind=opened]")).to_have_count(1)
        expect(page.locator("#alert-timeline li[data-kind=level_raised]")).to_have_count(1)
        expect(page.locator("#alert-map")).to_have_attribute("data-ready", "5")  # zone, 2 fixes and their circles
        expect(page.locator("#alert-map path.leaflet-interactive")).to_have_count(5)
        href = page.locator("#replay-link").get_attribute("href")
        assert href.startswith(f"/supervisees/{alert['supervisee_id']}/track?from=")
        page.screenshot(path=f"{SHOTS}/alert-page.png")
        page.set_viewport_size({"width": 768, "height": 1024})  # a tablet
        page.screenshot(path=f"{SHOTS}/alert-page-tablet.png", full_page=True)


def test_acknowledge_with_a_note_then_resolve_with_a_disposition(browser, portal_url, office):
    alert = office["alerts"][1]
    with signed_in_page(browser, portal_url, office["officer"]["username"]) as page:
        page.goto(f"{portal_url}/alerts/{alert['id']}")
        ack = page.locator("form[data-action=ack]")
        ack.get_by_label("备注 Note").fill("电话联系 called, he is on his way back")
        ack.get_by_role("button").click()
        expect(page.locator("#alert-status")).to_contain_text("acknowledged")
        expect(page.locator("#alert-timeline li[data-kind=acknowledged]")).to_contain_text("on his way back")
        expect(page.locator("form[data-action=ack]")).to_have_count(0)

        resolve = page.locator("form[data-action=resolve]")
        resolve.get_by_role("button").click()  # no disposition chosen: said next to the form
        expect(resolve.get_by_role("alert")).to_contain_text("Choose a disposition")
        resolve.get_by_label("处置结果 Disposition").select_option("confirmed_violation")
        resolve.get_by_label("备注 Note").fill("warned")
        resolve.get_by_role("button").click()
        expect(page.locator("#alert-status")).to_contain_text("resolved")
        expect(page.locator("#alert-timeline li[data-kind=resolved]")).to_contain_text("confirmed_violation")
        expect(page.locator("form.alert-action[data-action=resolve]")).to_have_count(0)


def test_escalate_and_suspend(browser, portal_url, office):
    alert = office["alerts"][2]
    with signed_in_page(browser, portal_url, office["officer"]["username"]) as page:
        page.goto(f"{portal_url}/alerts/{alert['id']}")
        page.locator("form[data-action=escalate]").get_by_role("button").click()
        expect(page.locator("#alert-status")).to_contain_text("escalated")
        expect(page.locator("#alert-timeline li[data-kind=escalated]")).to_have_count(1)

        suspend = page.locator("form[data-action=suspend]")
        suspend.get_by_role("button").click()
        expect(suspend.get_by_role("alert")).to_contain_text("Give a reason")
        suspend.get_by_label("原因 Reason").fill("住院 in hospital")
        suspend.get_by_label("截止 Until").fill("2099-01-01T08:00")  # too far ahead: the API's reason shows
        suspend.get_by_role("button").click()
        expect(suspend.get_by_role("alert")).to_contain_text("at most")
        until = (utcnow() + timedelta(hours=20)).astimezone(display_tz()).strftime("%Y-%m-%dT%H:%M")
        suspend.get_by_label("截止 Until").fill(until)
        suspend.get_by_role("button").click()
        expect(page.locator("#action-done")).to_be_visible()
        (row,) = office["api"].call("GET", f"/supervisees/{alert['supervisee_id']}/alert-suspensions")
        assert row["reason"] == "住院 in hospital"


def test_a_refused_action_shows_the_api_reason(browser, portal_url, office):
    """The buttons follow the state the page was rendered in; the API decides on the state now, and
    the page tells that the alert changed."""
    person = office["people"][1]
    change = raise_alert(person["id"], utcnow(), key=f"test_stale:{person['id']}")
    with signed_in_page(browser, portal_url, office["officer"]["username"]) as page:
        page.goto(f"{portal_url}/alerts/{change.alert_id}")
        office["api"].call("POST", f"/alerts/{change.alert_id}/ack", json={"note": "from another tab"})
        # The page follows the alert live: its timeline shows the other tab's acknowledgement.
        expect(page.locator("#alert-changed")).to_be_visible(timeout=LIVE_MS)
        expect(page.locator("#alert-timeline li[data-kind=acknowledged]")).to_contain_text("from another tab")
        page.locator("form[data-action=ack]").get_by_role("button").click()
        expect(page.locator("form[data-action=ack]").get_by_role("alert")).to_contain_text(
            "only an open alert can be acknowledged"
        )


def test_an_auditor_sees_the_alert_read_only_and_the_api_refuses_them(browser, portal_url, office):
    alert = office["alerts"][0]
    with signed_in_page(browser, portal_url, office["auditor"]["username"]) as page:
        page.goto(f"{portal_url}/alerts/{alert['id']}")
        expect(page.locator("#read-only")).to_be_visible()
        expect(page.locator("form.alert-action")).to_have_count(0)
        expect(page.locator("#replay-link")).to_have_count(0)  # nor the person's pages
        expect(page.locator("#alert-timeline li[data-kind=opened]")).to_have_count(1)
        refused = page.evaluate(
            f"ewallApi('POST', '/alerts/{alert['id']}/ack', {{}}).then(() => 'accepted', (e) => e.message)"
        )
        assert refused.startswith("403") and "cannot handle alerts" in refused
        page.screenshot(path=f"{SHOTS}/alert-auditor.png")
