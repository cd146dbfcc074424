"""The live caseload map: an officer signs in and sees their caseload's markers coloured by the
worst open alert, stale positions greyed; positions and alerts change live without a reload;
filters, search and selection work; nobody else's supervisees ever appear."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.session import sign_in
from tests.factories import CENTRE, STAFF_PASSWORD, eventually, now_iso, offset, post_fixes, post_outside, signed_in_as

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-map")
WAIT_MS = 90_000  # generous: an alert crosses every worker of the pipeline


def _describe(page, person: dict):
    return page.evaluate("id => window.ewallLiveMap.describe(id)", person["id"])


@pytest.fixture(scope="module")
def caseload(admin_api, portal_url, ingest_url):
    """Officer A's home (normal, inside their wall), away (a yellow alert), stale (a fix 40 minutes
    old, parole, high risk) and wanderer (inside their wall five minutes ago, about to leave) people;
    officer B's person in the same district."""
    district = admin_api.district()
    officer, other_officer = admin_api.officer(district["id"]), admin_api.officer(district["id"])
    home, away, stale, wanderer = (admin_api.supervisee(district["id"], officer["id"]) for _ in range(4))
    admin_api.call("PATCH", f"/supervisees/{stale['id']}", json={"category": "parole", "risk_level": "high"})
    other = admin_api.supervisee(district["id"], other_officer["id"])
    tokens = {p["id"]: admin_api.device(p["id"])["token"] for p in (home, away, stale, wanderer, other)}
    zones = {p["id"]: admin_api.home_zone(p["id"]) for p in (home, away, wanderer)}
    ago = {minutes: (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat() for minutes in (5, 40)}
    with httpx.Client(base_url=ingest_url, timeout=20) as ingest:
        for person, ts in ((home, now_iso()), (stale, ago[40]), (wanderer, ago[5]), (other, now_iso())):
            fix = {"ts": ts, "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 10}
            assert post_fixes(ingest, tokens[person["id"]], [fix]).status_code == 202
        lat, lon = offset(*CENTRE, north_m=1500)  # 1 km beyond the wall: yellow

        def yellow():
            post_outside(ingest, tokens[away["id"]], lat, lon)
            return admin_api.call("GET", f"/alerts?supervisee_id={away['id']}")

        eventually(yellow, every_s=1.0, what="the yellow alert")
    placed = {p["id"] for p in (home, away, stale, wanderer, other)}
    eventually(
        lambda: placed <= {p["supervisee_id"] for p in admin_api.call("GET", "/positions/live")},
        what="everyone's position",
    )
    SHOTS.mkdir(exist_ok=True)
    return {
        "officer": officer,
        "api": signed_in_as(portal_url, officer),
        "other_officer": other_officer,
        "home": home,
        "away": away,
        "stale": stale,
        "wanderer": wanderer,
        "other": other,
        "tokens": tokens,
        "zones": zones,
    }


def _open_map(page, portal_url, officer) -> None:
    page.on("pageerror", lambda e: print("PAGEERROR", e))
    page.on("console", lambda m: print("CONSOLE", m.text))
    sign_in(page, portal_url, officer["username"])
    expect(page.locator("#live-map")).to_have_attribute("data-ready", "true")


def test_the_caseload_shows_coloured_by_level_and_no_one_else(browser, portal_url, caseload):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    _open_map(page, portal_url, caseload["officer"])
    expect(page.locator("#caseload-count")).to_have_text("4")
    expect(page.locator("#yellow-count")).to_have_text("1")
    expect(page.locator("#stale-count")).to_have_text("1")
    assert _describe(page, caseload["home"]) | {"lat": 0, "lon": 0, "ts": 0} == {
        "level": "normal",
        "stale": False,
        "shown": True,
        "lat": 0,
        "lon": 0,
        "ts": 0,
    }
    assert _describe(page, caseload["away"])["level"] == "yellow"
    assert _describe(page, caseload["stale"])["stale"] is True
    assert _describe(page, caseload["other"]) is None, "officer B's supervisee is not in A's caseload"
    assert page.evaluate("window.ewallLiveMap.clustered()") == 4
    row = page.locator("#open-alerts tbody tr").first
    expect(row).to_contain_text(caseload["away"]["code"])
    assert row.locator("a[data-field=level]").get_attribute("href").startswith("/alerts/")
    assert row.locator("a[data-field=person]").get_attribute("href") == f"/supervisees/{caseload['away']['id']}"
    page.screenshot(path=str(SHOTS / "dashboard-1366.png"))
    page.set_viewport_size({"width": 768, "height": 1024})
    # The map follows the window's new size; its zoom and cluster animations end first.
    page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim, .leaflet-cluster-anim')")
    page.screenshot(path=str(SHOTS / "dashboard-tablet.png"), full_page=True)
    context.close()

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    _open_map(page, portal_url, caseload["other_officer"])
    expect(page.locator("#caseload-count")).to_have_text("1")
    assert _describe(page, caseload["home"]) is None
    assert page.evaluate("window.ewallLiveMap.clustered()") == 1
    context.close()


def test_a_fix_moves_the_marker_and_an_alert_recolours_it_live(page, portal_url, ingest, caseload):
    home = caseload["home"]
    _open_map(page, portal_url, caseload["officer"])
    expect(page.locator("#positions-status")).to_contain_text("live")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    lat, lon = offset(*CENTRE, north_m=200)  # still inside the wall
    post_fixes(ingest, caseload["tokens"][home["id"]], [{"ts": now_iso(), "lat": lat, "lon": lon, "accuracy_m": 10}])
    page.wait_for_function(
        "([id, lat]) => Math.abs(window.ewallLiveMap.describe(id).lat - lat) < 1e-7", arg=[home["id"], lat]
    )

    wanderer = caseload["wanderer"]
    far = offset(*CENTRE, north_m=4000)  # 3.5 km beyond the wall: red

    def red():
        post_outside(ingest, caseload["tokens"][wanderer["id"]], *far)
        return caseload["api"].call("GET", f"/alerts?supervisee_id={wanderer['id']}&level=red")

    eventually(red, every_s=1.0, what="the red alert")
    page.wait_for_function(
        "id => window.ewallLiveMap.describe(id).level === 'red'", arg=wanderer["id"], timeout=WAIT_MS
    )
    expect(page.locator("#red-count")).to_have_text("1")
    assert _describe(page, wanderer)["lat"] == pytest.approx(far[0])
    assert page.evaluate("window.sameDocument") is True
    page.screenshot(path=str(SHOTS / "dashboard-red.png"))


def test_filters_search_and_selection(page, portal_url, caseload):
    _open_map(page, portal_url, caseload["officer"])
    shown = page.locator("#shown-count")
    page.select_option("select[name=level]", "yellow")
    expect(shown).to_have_text("1")
    assert _describe(page, caseload["away"])["shown"] is True
    page.select_option("select[name=level]", "stale")
    expect(shown).to_have_text("1")
    page.select_option("select[name=level]", "")
    page.select_option("select[name=category]", "parole")
    expect(shown).to_have_text("1")
    page.select_option("select[name=risk]", "medium")
    expect(shown).to_have_text("0")
    page.select_option("select[name=category]", "")
    page.select_option("select[name=risk]", "")
    page.select_option("select[name=officer]", str(caseload["officer"]["id"]))
    expect(shown).to_have_text("4")

    page.fill("#search-text", caseload["other"]["code"])
    expect(page.locator("#search-results")).to_contain_text("no match")
    page.fill("#search-text", caseload["away"]["code"].lower())
    result = page.locator(f'#search-results button[data-supervisee-id="{caseload["away"]["id"]}"]')
    result.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#selected-person")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text(caseload["away"]["code"])
    expect(panel.locator("[data-field=link]")).to_have_attribute("href", f"/supervisees/{caseload['away']['id']}")
    zone_id = caseload["zones"][caseload["away"]["id"]]["id"]
    page.wait_for_function("id => window.ewallLiveMap.zones().includes(id)", arg=zone_id)
    assert page.evaluate("window.ewallLiveMap.zones()") == [zone_id], "only the selected person's zones"
    expect(page.locator(".leaflet-popup-content")).to_contain_text(caseload["away"]["code"])
    page.screenshot(path=str(SHOTS / "dashboard-selected.png"))
    page.click("#clear-selection")
    assert page.evaluate("window.ewallLiveMap.zones()") == []


def test_wrong_password_stays_on_the_login_page(page, portal_url, caseload):
    page.goto(f"{portal_url}/login")
    page.fill("input[name=username]", caseload["officer"]["username"])
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "wrong username or password" in page.inner_text(".error")


def test_a_signed_out_visitor_is_sent_to_sign_in(page, portal_url):
    page.goto(f"{portal_url}/")
    assert page.url.endswith("/login")
    assert STAFF_PASSWORD not in page.content()
