"""An officer signs in, sees their open alerts and their caseload on the live map."""

import pytest

from tests.factories import CENTRE, STAFF_PASSWORD, eventually, now_iso, offset, post_fixes, post_outside

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def officer_with_a_wanderer(admin_api, ingest_url):
    import httpx

    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    home = admin_api.supervisee(district["id"], officer["id"])
    away = admin_api.supervisee(district["id"], officer["id"])
    with httpx.Client(base_url=ingest_url, timeout=20) as ingest:
        # Away: 1.5 km north, 1 km beyond the wall (yellow; 2 km beyond would be red).
        for person, north_m in ((home, 0), (away, 1500)):
            device = admin_api.device(person["id"])
            admin_api.home_zone(person["id"])
            lat, lon = offset(*CENTRE, north_m=north_m)

            def reported(device=device, lat=lat, lon=lon, person=person, north_m=north_m):
                if north_m == 0:
                    post_fixes(ingest, device["token"], [{"ts": now_iso(), "lat": lat, "lon": lon, "accuracy_m": 10}])
                    return any(p["supervisee_id"] == person["id"] for p in admin_api.call("GET", "/positions/live"))
                post_outside(ingest, device["token"], lat, lon)
                return admin_api.call("GET", f"/alerts?supervisee_id={person['id']}")

            eventually(reported, every_s=1.0, what=f"pipeline result for {person['code']}")
    return {"officer": officer, "home": home, "away": away}


def test_sign_in_shows_the_alert_queue_and_the_map(page, portal_url, officer_with_a_wanderer):
    page.goto(f"{portal_url}/")
    assert page.url.endswith("/login")
    page.fill("input[name=username]", officer_with_a_wanderer["officer"]["username"])
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#open-alerts")

    assert page.inner_text("#caseload-count") == "2"
    assert page.inner_text("#yellow-count") == "1"
    rows = page.locator("#open-alerts tbody tr")
    assert rows.count() == 1
    assert officer_with_a_wanderer["away"]["code"] in rows.first.inner_text()
    assert "inclusion_exit" in rows.first.inner_text()

    frame = page.frame_locator("#live-map")
    frame.locator(".leaflet-container").wait_for()
    assert frame.locator("path.ewall-person").count() == 2
    assert frame.locator("path.level-yellow").count() == 1
    assert frame.locator("path.level-normal").count() == 1
    page.screenshot(path=".run/dashboard.png", full_page=True)


def test_wrong_password_stays_on_the_login_page(page, portal_url, officer_with_a_wanderer):
    page.goto(f"{portal_url}/login")
    page.fill("input[name=username]", officer_with_a_wanderer["officer"]["username"])
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "wrong username or password" in page.inner_text(".error")
