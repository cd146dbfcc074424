"""The whole journey, through the real pipeline: an officer signs in; a red alert arrives live in
their queue (fixes far outside posted through ingest); they open it, acknowledge it with a note,
replay the person's track around it, and resolve it as a confirmed violation; their supervisor sees
the response time."""

import pytest
from playwright.sync_api import expect

from tests.browser.session import sign_in
from tests.factories import CENTRE, offset, post_outside

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-alerts"
PIPELINE_MS = 90_000  # the alert crosses ingest, the broker, geofence and the alerts worker


def test_an_officer_handles_a_red_alert_and_the_supervisor_sees_the_response_time(
    browser, portal_url, ingest, admin_api
):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    supervisor = admin_api.officer(district["id"], role="supervisor")
    person = admin_api.supervisee(district["id"], officer["id"])
    admin_api.home_zone(person["id"])
    token = admin_api.device(person["id"])["token"]

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, portal_url, officer["username"])
    page.goto(f"{portal_url}/alerts")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=PIPELINE_MS)
    expect(page.locator("#no-alerts")).to_be_visible()

    post_outside(ingest, token, *offset(*CENTRE, north_m=4000))  # 3.5 km beyond the wall: red at once
    row = page.locator("#alert-queue tr[data-alert-id]", has_text=person["code"])
    expect(row).to_be_visible(timeout=PIPELINE_MS)
    expect(row.locator(".badge")).to_have_text("红 red")
    expect(page.locator(".toast.red", has_text=person["code"])).to_be_visible()
    page.screenshot(path=f"{SHOTS}/journey-queue.png")

    row.get_by_role("link").click()
    alert_id = page.locator("#alert-detail").get_attribute("data-alert-id")
    ack = page.locator("form[data-action=ack]")
    ack.get_by_label("备注 Note").fill("已电话联系 called him, coming back")
    ack.get_by_role("button").click()
    expect(page.locator("#alert-status")).to_contain_text("acknowledged")

    replay = page.get_by_role("link", name="回放轨迹 Replay track")
    assert replay.get_attribute("href").startswith(f"/supervisees/{person['id']}/track?from=")
    replay.click()
    page.locator("path.replay-run").first.wait_for(state="attached")  # the fixes that made the alert
    page.screenshot(path=f"{SHOTS}/journey-replay.png")
    page.go_back()

    resolve = page.locator("form[data-action=resolve]")
    resolve.get_by_label("处置结果 Disposition").select_option("confirmed_violation")
    resolve.get_by_role("button").click()
    expect(page.locator("#alert-status")).to_contain_text("resolved")
    page.screenshot(path=f"{SHOTS}/journey-resolved.png")
    context.close()

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, portal_url, supervisor["username"])
    page.goto(f"{portal_url}/reports/response-times?district={district['id']}")
    mine = page.locator(f'#response-times tr[data-officer-id="{officer["id"]}"]')
    expect(mine.locator("[data-field=assigned]")).to_have_text("1")
    expect(mine.locator("[data-field=acknowledged]")).to_have_text("1")
    expect(mine.locator("[data-field=median_min]")).not_to_have_text("—")
    expect(mine.locator("[data-field=resolve_median_min]")).not_to_have_text("—")
    page.screenshot(path=f"{SHOTS}/journey-response-times.png")
    context.close()
    assert alert_id
