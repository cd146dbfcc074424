"""The alert queue follows the live stream: a new alert, its acknowledgement and its resolution
show up on the open page without a reload, and a red one raises a toast."""

import pytest
from playwright.sync_api import expect

from tests.factories import CENTRE, STAFF_PASSWORD, eventually, offset, post_outside, signed_in_as

pytestmark = pytest.mark.browser
WAIT_MS = 90_000  # generous: the alert crosses every worker of the pipeline


@pytest.fixture(scope="module")
def officer_with_a_quiet_caseload(admin_api, portal_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    person = admin_api.supervisee(district["id"], officer["id"])
    admin_api.home_zone(person["id"])
    return {
        "officer": officer,
        "api": signed_in_as(portal_url, officer),
        "person": person,
        "token": admin_api.device(person["id"])["token"],
    }


def test_a_new_red_alert_and_its_handling_show_without_a_reload(
    page, portal_url, ingest, officer_with_a_quiet_caseload
):
    who = officer_with_a_quiet_caseload
    person = who["person"]
    page.goto(f"{portal_url}/login")
    page.fill("input[name=username]", who["officer"]["username"])
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    expect(page.locator("#no-alerts")).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    lat, lon = offset(*CENTRE, north_m=4000)  # 3.5 km beyond the wall: red

    def opened():
        post_outside(ingest, who["token"], lat, lon)
        return who["api"].call("GET", f"/alerts?supervisee_id={person['id']}")

    alert = eventually(opened, every_s=1.0, what="the red alert")[0]

    row = page.locator(f'#open-alerts tr[data-alert-id="{alert["id"]}"]')
    expect(row).to_be_visible(timeout=WAIT_MS)
    expect(row).to_contain_text(person["code"])
    expect(row).to_contain_text("inclusion_exit")
    expect(row.locator('[data-field="level"]')).to_have_text("红 red")
    expect(page.locator("#red-count")).to_have_text("1")
    toast = page.locator(".toast.red", has_text=person["code"])
    expect(toast).to_be_visible()
    page.screenshot(path=".run/live-alerts.png", full_page=True)

    who["api"].call("POST", f"/alerts/{alert['id']}/ack", json={})
    expect(row.locator('[data-field="status"]')).to_have_text("acknowledged", timeout=WAIT_MS)

    who["api"].call("POST", f"/alerts/{alert['id']}/resolve", json={"disposition": "confirmed_violation"})
    expect(row).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator("#no-alerts")).to_be_visible()
    expect(page.locator("#red-count")).to_have_text("0")

    toast.get_by_role("button").click()
    expect(toast).to_have_count(0)
    assert page.evaluate("window.sameDocument") is True
