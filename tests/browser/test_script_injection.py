"""Names are data, never markup: a supervisee or zone named with HTML or JavaScript shows as text on
every page and map, and the pages' Content-Security-Policy would stop script that slipped through."""

from pathlib import Path

import httpx
import pytest

from tests.factories import CENTRE, STAFF_PASSWORD, eventually, now_iso, post_fixes

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-map")
# Each payload records which one ran.
PERSON = "<img src=x onerror=\"top.ran='img'\">`${top.ran='template'}`\\"
ZONE = "<svg onload=\"top.ran='zone'\"></svg>`+(top.ran='concat')+`"


@pytest.fixture(scope="module")
def planted(admin_api, ingest_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    person = admin_api.supervisee(district["id"], officer["id"])
    admin_api.call("PATCH", f"/supervisees/{person['id']}", json={"full_name": PERSON})
    zone = admin_api.home_zone(person["id"])
    admin_api.call("PATCH", f"/zones/{zone['id']}", json={"name": ZONE})
    device = admin_api.device(person["id"])
    with httpx.Client(base_url=ingest_url, timeout=20) as ingest:
        post_fixes(ingest, device["token"], [{"ts": now_iso(), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 10}])

    def on_the_map():
        return any(p["supervisee_id"] == person["id"] for p in admin_api.call("GET", "/positions/live"))

    eventually(on_the_map, what="the planted person's position")
    return officer


def test_script_in_names_stays_text_on_the_dashboard_and_map(page, portal_url, planted):
    dialogs, violations = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{portal_url}/login")
    page.fill("input[name=username]", planted["username"])
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#live-map[data-ready=true]", state="attached")

    # Found by search, selected: the result, the card beside the map, the popup and the zones.
    page.fill("#search-text", "top.ran")
    result = page.locator("#search-results button")
    assert PERSON in result.inner_text()
    result.click()
    assert PERSON in page.locator("#selected-person").inner_text()
    assert PERSON in page.locator(".leaflet-popup-content").inner_text()
    page.wait_for_function("window.ewallLiveMap.zones().length === 1")
    # Every tooltip open at once: the zone's, and the person's on hovering their marker.
    page.evaluate(
        """() => { const { map } = window.ewallLiveMap;
                   map.eachLayer(layer => layer.getTooltip && layer.getTooltip() && layer.openTooltip());
                   map.eachLayer(layer => layer.personId && layer.fire("mouseover", {}, true)); }"""
    )
    tooltips = "\n".join(page.locator(".leaflet-tooltip").all_inner_texts())
    assert PERSON in tooltips and ZONE in tooltips
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "script-injection.png"), full_page=True)

    assert page.evaluate("window.ran") is None
    assert dialogs == []
    assert violations == []


def test_pages_send_a_content_security_policy(portal_url):
    for path in ("/login", "/docs"):
        response = httpx.get(f"{portal_url}{path}")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self' 'nonce-" in policy and "frame-ancestors 'self'" in policy
        assert "object-src 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    docs = httpx.get(f"{portal_url}/docs").text
    assert "cdn." not in docs and "/_docs/swagger-ui-bundle.js" in docs


def test_the_api_docs_run_from_the_shipped_copy_under_the_policy(page, portal_url):
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{portal_url}/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert page.locator(".opblock").count() > 10
    assert violations == []
