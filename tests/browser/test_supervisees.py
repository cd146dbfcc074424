"""The supervisees' pages in Chromium: the caseload list (search, filters, registering a person with the
API's reasons shown), one person's page (every section, edit, transfer, end supervision), registering a
phone (id, token and two QR codes shown once) and what another officer may not see or do."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.wire import AlertLevel
from tests.alerts.helpers import raise_alert
from tests.browser.session import sign_in
from tests.factories import eventually, unique

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-supervisees")
DESKTOP, TABLET = {"width": 1366, "height": 768}, {"width": 768, "height": 1024}


@pytest.fixture(scope="module")
def caseload(admin_api, ingest_url):
    import httpx

    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    other = admin_api.officer(district["id"])
    supervisor = admin_api.officer(district["id"], role="supervisor")
    person = admin_api.supervisee(district["id"], officer["id"])
    admin_api.call("PATCH", f"/supervisees/{person['id']}", json={"full_name": "王小明", "risk_level": "high"})
    leaving = admin_api.supervisee(district["id"], officer["id"], monitored=False)
    others_person = admin_api.supervisee(district["id"], other["id"], monitored=False)
    admin_api.home_zone(person["id"])
    raise_alert(person["id"], datetime.now(UTC) - timedelta(minutes=5), AlertLevel.red)
    camera = admin_api.camera(district["id"], name="司法所报到机")
    sighting = {
        "person_code": person["code"],
        "ts": datetime.now(UTC).isoformat(),
        "confidence": 0.97,
        "kind": "report",
    }
    answer = httpx.post(
        f"{ingest_url}/api/v1/sightings",
        json={"sightings": [sighting]},
        headers={"Authorization": f"Bearer {camera['token']}"},
    )
    assert answer.status_code == 202, answer.text
    # Acknowledged by the broker; stored by the persist worker a moment later.
    eventually(lambda: admin_api.call("GET", f"/supervisees/{person['id']}/sightings"), what="the check-in stored")
    return {
        "district": district,
        "officer": officer,
        "other": other,
        "supervisor": supervisor,
        "person": person,
        "leaving": leaving,
        "others_person": others_person,
    }


@pytest.fixture
def desk(browser):
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_list_searches_filters_and_registers_with_the_reasons_shown(desk, portal_url, caseload):
    page = desk
    sign_in(page, portal_url, caseload["supervisor"]["username"])
    page.goto(f"{portal_url}/supervisees")
    rows = page.locator("#caseload tbody tr[data-supervisee-id]")
    assert rows.count() == 3  # the district's active caseload
    shot(page, "list-1366")
    page.set_viewport_size(TABLET)
    shot(page, "list-768")
    page.set_viewport_size(DESKTOP)
    page.fill("input[name=q]", "王小")
    page.click("form.filters button[type=submit]")
    assert rows.count() == 1 and "王小明" in rows.first.inner_text()
    page.goto(f"{portal_url}/supervisees?risk_level=high&officer_id={caseload['other']['id']}")
    assert page.locator("form.filters select[name=risk_level]").input_value() == "high"
    assert rows.count() == 0

    form = page.locator("#register-supervisee")
    form.locator("input[name=full_name]").fill("赵六")
    form.locator("button[type=submit]").click()
    # The API's 422 reasons, next to the fields they are about.
    form.locator("input[name=code] + .field-error").wait_for()
    assert form.locator("select[name=category] + .field-error").is_visible()
    shot(page, "register-422")
    form.locator("input[name=code]").fill(caseload["person"]["code"])  # taken: a 409 with its reason
    form.locator("select[name=category]").select_option("parole")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-error")).to_contain_text("already exists")
    code = unique("NEW")
    form.locator("input[name=code]").fill(code)
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{portal_url}/supervisees/*")
    assert code in page.locator("h1").inner_text()


def test_person_page_shows_every_section_and_edits_transfers_and_ends(desk, portal_url, caseload):
    page = desk
    person = caseload["person"]
    sign_in(page, portal_url, caseload["supervisor"]["username"])
    page.goto(f"{portal_url}/supervisees/{person['id']}")
    assert "王小明" in page.locator("#profile").inner_text()
    assert page.locator("#monitoring tbody tr[data-period-id]").count() == 1
    assert page.locator("#renew-period").count() == 1 and page.locator("#release-period").count() == 1
    assert page.locator("#zones tbody tr[data-zone-id]").count() == 1
    assert page.locator("#alerts a[href^='/alerts/']").count() == 1
    assert "报到 report-in" in page.locator("#sightings").inner_text()
    assert page.locator(f"a[href='/supervisees/{person['id']}/track']").count() == 1
    shot(page, "person-1366")
    page.set_viewport_size(TABLET)
    shot(page, "person-768")
    page.set_viewport_size(DESKTOP)

    page.click("#profile details summary")
    page.select_option("#edit-supervisee select[name=risk_level]", "low")
    page.click("#edit-supervisee button[type=submit]")
    page.locator("#profile .risk-low").wait_for()

    page.select_option("#transfer-supervisee select[name=officer_id]", str(caseload["other"]["id"]))
    page.click("#transfer-supervisee button[type=submit]")
    page.wait_for_function(
        "name => document.getElementById('assigned-officer').textContent.includes(name)",
        arg=caseload["other"]["username"],
    )

    # A renewal (延长) on an assessment: without grounds the API's reason sits by the grounds.
    periods = page.locator("#monitoring tbody tr[data-period-id]")
    page.click("#monitoring details:has(#renew-period) summary")
    renewal_ends = date.fromisoformat(person["monitoring_end"]) + timedelta(days=30)
    page.fill("#renew-period input[name=ends_on]", renewal_ends.isoformat())
    page.fill("#renew-period textarea[name=assessment]", "经评估仍有必要 still needed")
    page.click("#renew-period button[type=submit]")
    page.locator("#renew-period fieldset.grounds + .field-error").wait_for()
    page.check("#renew-period input[name=grounds] >> nth=0")
    page.click("#renew-period button[type=submit]")
    expect(periods).to_have_count(2)
    page.click("#monitoring details:has(#release-period) summary")
    page.fill("#release-period textarea[name=reason]", "表现良好 no longer needed")
    page.click("#release-period button[type=submit]")
    expect(page.locator("#monitoring")).to_contain_text("no longer needed")
    # Who approved and who released, by name, even for an approver of another district (the admin).
    assert caseload["supervisor"]["username"] in page.inner_text("#monitoring")
    assert "（admin）" in page.inner_text("#monitoring")

    page.goto(f"{portal_url}/supervisees/{caseload['leaving']['id']}")
    # Unconfirmed, the browser keeps the form (the box is required) and nothing is sent.
    assert page.locator("#end-supervision input[name=confirm]:invalid").count() == 1
    page.check("#end-supervision input[name=confirm]")
    page.click("#end-supervision button[type=submit]")
    page.locator("h1 .tag.ended").wait_for()


def test_registering_a_phone_shows_its_token_and_codes_once(desk, portal_url, caseload):
    page = desk
    person = caseload["others_person"]
    sign_in(page, portal_url, caseload["other"]["username"])
    page.goto(f"{portal_url}/supervisees/{person['id']}")
    # From the keyboard: open the panel, submit, and the focus lands on the set-up shown.
    page.focus("#register-phone-panel summary")
    page.keyboard.press("Enter")
    page.focus("#register-phone button[type=submit]")
    page.keyboard.press("Enter")
    setup = page.locator("#phone-setup")
    setup.wait_for()
    assert page.evaluate("document.activeElement.closest('#phone-setup') !== null")
    token = setup.locator("[data-setup=token]").inner_text()
    key = setup.locator("[data-setup=key]").inner_text()
    assert len(token) > 20 and key.startswith("ew-")
    assert "Shown this once" in setup.inner_text()
    codes = setup.locator("img[src^='data:image/svg+xml']")
    assert codes.count() == 2
    assert all(codes.nth(n).evaluate("img => img.complete && img.naturalWidth > 0") for n in range(2))
    assert f"id={key}" in setup.locator("[data-setup=traccar-url]").inner_text()
    shot(page, "phone-setup-1366")
    page.set_viewport_size(TABLET)
    shot(page, "phone-setup-768")

    page.reload()
    assert page.locator("#phone-setup").is_hidden()
    assert token not in page.content() and key not in page.content()
    assert key[-4:] in page.locator("#devices tbody").inner_text()  # listed by its hint only


def test_an_officer_sees_only_their_caseload_and_may_not_approve(desk, portal_url, caseload):
    page = desk
    sign_in(page, portal_url, caseload["other"]["username"])
    response = page.goto(f"{portal_url}/supervisees/{caseload['leaving']['id']}")
    assert response.status == 404 and "not in your caseload" in page.inner_text("main")
    shot(page, "not-found")
    page.goto(f"{portal_url}/supervisees")
    assert page.locator("#caseload tbody tr[data-supervisee-id]").count() >= 1
    assert page.locator(f"tr[data-supervisee-id='{caseload['leaving']['id']}']").count() == 0

    page.goto(f"{portal_url}/supervisees/{caseload['others_person']['id']}")
    assert page.locator("#renew-period, #release-period, #approve-period, #transfer-supervisee").count() == 0
    # The page offers no approval; the API refuses one all the same, and says who may.
    reason = page.evaluate(
        """path => window.ewallApi("POST", path, {starts_on: "2026-12-01", ends_on: "2026-12-31",
                 grounds: ["left_area_without_approval"]}).then(() => "accepted", e => e.message)""",
        f"/supervisees/{caseload['others_person']['id']}/monitoring-periods",
    )
    assert reason.startswith("403") and "supervisor" in reason
