"""The command-centre view in Chromium: counts by district, each officer's open and overdue alerts,
platform alerts by district name, and the map of latest positions; who may open it."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from alerts import service as alerts_service
from core.db import session_scope
from core.wire import AlertLevel
from tests.alerts.helpers import raise_alert
from tests.browser.session import sign_in
from tests.factories import CENTRE, eventually, now_iso, offset, post_fixes, unique

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-oversight"


@pytest.fixture(scope="module")
def centre(admin_api, ingest_url):
    """A county with a town below it: an officer's two people with positions, one red alert an hour
    old (overdue: red is due in 15 min) and one fresh yellow, and the county gone silent (platform)."""
    county = admin_api.district()
    name = unique("平山区 Pingshan ")
    admin_api.call("PATCH", f"/districts/{county['id']}", json={"name": name})
    town = admin_api.call(
        "POST",
        "/districts",
        201,
        json={"code": unique("T"), "name": "镇 town", "level": "township", "parent_id": county["id"]},
    )
    officer = admin_api.officer(town["id"])
    staff = {role: admin_api.officer(county["id"], role=role) for role in ("command", "supervisor", "auditor")}
    people = [admin_api.supervisee(town["id"], officer["id"]) for _ in range(2)]
    with httpx.Client(base_url=ingest_url, timeout=20) as ingest:
        for n, person in enumerate(people):
            device = admin_api.device(person["id"])
            lat, lon = offset(*CENTRE, north_m=300 * n)
            fix = {"ts": now_iso(), "lat": lat, "lon": lon, "accuracy_m": 10}
            assert post_fixes(ingest, device["token"], [fix]).status_code == 202
    now = datetime.now(UTC)
    raise_alert(people[0]["id"], now - timedelta(hours=1), AlertLevel.red, key=unique("cmd:"))
    raise_alert(people[1]["id"], now, AlertLevel.yellow, key=unique("cmd:"))
    with session_scope() as session:
        alerts_service.raise_alert(
            session=session,
            supervisee_id=None,
            zone_id=None,
            rule="district_silent",
            level=AlertLevel.red,
            key=unique("district_silent:"),
            at=now,
            evidence={"silent": 5},
            district_id=county["id"],
        )
    ids = {p["id"] for p in people}

    def positions_stored():
        return ids <= {p["supervisee_id"] for p in admin_api.call("GET", "/positions/live")}

    eventually(positions_stored, every_s=0.5, what="both positions stored")
    return {"county": county, "name": name, "town": town, "officer": officer, "people": people, **staff}


def test_command_sees_counts_workload_platform_alerts_and_map(page, portal_url, centre):
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, centre["command"]["username"])
    page.click("header nav a[href='/command']")
    page.wait_for_selector("#command-map .leaflet-container, #command-map.leaflet-container")
    assert page.inner_text("#total-supervisees") == "2"
    assert page.inner_text("#total-monitored") == "2"
    assert (page.inner_text("#total-red"), page.inner_text("#total-yellow")) == ("2", "1")
    assert page.inner_text("#total-overdue") == "1"
    assert page.inner_text("#map-count") == "2"

    town = page.locator(f"#district-counts tr[data-district-id='{centre['town']['id']}'] td")
    assert [town.nth(i).inner_text() for i in range(1, 6)] == ["2", "2", "1", "1", "1"]
    row = page.locator(f"#officer-workload tr[data-username='{centre['officer']['username']}'] td")
    assert [row.nth(i).inner_text() for i in range(1, 4)] == ["2", "1", "1"]
    platform = page.inner_text("#platform-alerts")
    assert centre["name"] in platform and "district_silent" in platform
    page.screenshot(path=f"{SHOTS}/command-1366.png", full_page=True)
    page.set_viewport_size({"width": 768, "height": 1024})
    page.screenshot(path=f"{SHOTS}/command-768.png", full_page=True)


def test_supervisor_sees_the_view_without_platform_alerts_auditor_does_not(page, portal_url, centre):
    sign_in(page, portal_url, centre["supervisor"]["username"])
    page.goto(f"{portal_url}/command")
    assert page.inner_text("#total-red") == "1"
    assert page.locator("#platform-alerts").count() == 0
    page.context.clear_cookies()
    sign_in(page, portal_url, centre["auditor"]["username"])
    assert page.locator("header nav a[href='/command']").count() == 0
    assert page.goto(f"{portal_url}/command").status == 403
