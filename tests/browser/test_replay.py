"""Trajectory replay in Chromium: the line coloured by speed or source with its gap dashed, play and
the slider moving the marker over every fix, the range picker (Asia/Shanghai inputs) reloading the
track, the exports downloading, the printable report, and another officer's person not found."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.session import sign_in
from tests.factories import CENTRE, eventually, offset, post_fixes

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-replay"
FIRST, SECOND = 15, 10
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def walk(admin_api, ingest_url):
    """A person who walks north, then, 25 minutes and 500 m on, drives north; one fix is a network one."""
    import httpx

    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    stranger = admin_api.officer(admin_api.district()["id"])
    person = admin_api.supervisee(district["id"], officer["id"])
    device = admin_api.device(person["id"])
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    times = [start + timedelta(minutes=m) for m in range(FIRST)]
    times += [times[-1] + timedelta(minutes=25 + m) for m in range(SECOND)]
    fixes = [
        {
            "ts": ts.isoformat(),
            "lat": lat,
            "lon": lon,
            "accuracy_m": 10 + k,
            "source": "network" if k == 5 else "gps",
        }
        for k, ts in enumerate(times)
        # Walking (60 m a minute), then driving (600 m a minute).
        for lat, lon in [offset(*CENTRE, north_m=60 * k if k < FIRST else 60 * FIRST + 500 + 600 * (k - FIRST))]
    ]
    with httpx.Client(base_url=ingest_url, timeout=20) as ingest:
        assert post_fixes(ingest, device["token"], fixes).status_code == 202
    since, until = start - timedelta(minutes=10), times[-1] + timedelta(minutes=10)
    query = {"from": since.isoformat(), "to": until.isoformat()}
    eventually(
        lambda: (
            len(admin_api.call("GET", f"/supervisees/{person['id']}/track", params=query)["features"]) == len(fixes)
        ),
        what="the walk stored",
    )
    url = f"/supervisees/{person['id']}/track?from={since:%Y-%m-%dT%H:%M:%SZ}&to={until:%Y-%m-%dT%H:%M:%SZ}"
    return {"person": person, "officer": officer, "stranger": stranger, "times": times, "url": url}


def _open(page, portal_url, walk, size=(1366, 768)):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, portal_url, walk["officer"]["username"])
    page.goto(portal_url + walk["url"])
    page.locator("path.replay-run").first.wait_for(state="attached")


def test_the_line_is_coloured_with_its_gap_dashed_and_play_and_slider_move_the_marker(page, portal_url, walk):
    _open(page, portal_url, walk)
    assert page.inner_text("#replay-summary").startswith(f"{FIRST + SECOND} 个定位")
    gap = page.locator("path.replay-gap")
    assert gap.count() == 1 and gap.get_attribute("stroke-dasharray") == "6 8"
    assert page.locator("path.replay-speed-1").count() and page.locator("path.replay-speed-3").count()  # walk, drive
    page.screenshot(path=f"{SHOTS}/replay-1366.png")

    drive = page.locator("path.replay-speed-3").bounding_box()  # a straight line north: its middle is on it
    page.mouse.move(drive["x"] + drive["width"] / 2, drive["y"] + drive["height"] / 2)
    expect(page.locator(".replay-hover")).to_contain_text("精度 accuracy ±")
    page.screenshot(path=f"{SHOTS}/replay-hover-1366.png")

    marker = page.locator("path.replay-marker")
    at_start, shown = marker.get_attribute("d"), page.inner_text("#replay-time")
    assert "1/25" in page.inner_text("#replay-fix")
    page.select_option("#replay-speed", "600")
    page.click("#replay-play")
    expect(page.locator("#replay-fix")).not_to_contain_text("定位 fix 1/")
    page.click("#replay-play")  # pause
    assert marker.get_attribute("d") != at_start and page.inner_text("#replay-time") != shown

    page.focus("#replay-slider")
    page.keyboard.press("End")  # the slider from the keyboard: to the last fix
    assert f"{FIRST + SECOND}/{FIRST + SECOND}" in page.inner_text("#replay-fix")
    page.keyboard.press("Home")
    assert "1/25" in page.inner_text("#replay-fix")

    page.check("input[name=colour][value=source]")
    assert page.locator("path.replay-source-1").count() == 1  # the one network fix
    assert "网络定位 network" in page.inner_text("#replay-legend")


def test_the_range_picker_reloads_the_chosen_range_in_utc(page, portal_url, walk):
    _open(page, portal_url, walk)
    first_stretch = walk["times"][:FIRST]
    local = [
        (t + d).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
        for t, d in ((first_stretch[0], timedelta(minutes=-1)), (first_stretch[-1], timedelta(minutes=1)))
    ]
    page.fill("#replay-from", local[0])
    page.fill("#replay-to", local[1])
    with page.expect_navigation():
        page.click("#replay-range button[type=submit]")
    assert f"from={(first_stretch[0] - timedelta(minutes=1)):%Y-%m-%dT%H}" in page.url.replace("%3A", ":")
    assert page.inner_text("#replay-summary") == f"{FIRST} 个定位 fixes · 0 处中断 gaps"
    assert page.locator("path.replay-gap").count() == 0

    backwards = page.url.replace("from=", "x=").replace("to=", "from=").replace("x=", "to=")
    assert page.goto(backwards).status == 422  # the picker stays, with the API's reason
    assert "'from' must be before 'to'" in page.inner_text(".replay-side .error")


def test_exports_download_and_the_report_prints_the_track(page, portal_url, walk):
    _open(page, portal_url, walk)
    for link, suffix in (("#export-gpx", ".gpx"), ("#export-geojson", ".geojson")):
        with page.expect_download() as download:
            page.click(link)
        name = download.value.suggested_filename
        assert name.startswith(f"track-{walk['person']['code']}-") and name.endswith(suffix)
    page.goto(portal_url + page.locator("#export-report").get_attribute("href"))
    page.locator("path.report-gap").wait_for(state="attached")
    header = page.inner_text(".report-head")
    assert walk["person"]["code"] in header and walk["officer"]["username"] in header and "中断 gaps: 1" in header
    assert page.locator("path.report-start").count() == 1 and page.locator("path.report-end").count() == 1
    page.screenshot(path=f"{SHOTS}/report-1366.png")


def test_on_a_tablet_the_map_and_controls_stack(page, portal_url, walk):
    _open(page, portal_url, walk, size=(768, 1024))
    assert page.locator("#replay-play").is_visible() and page.locator("#replay-slider").is_visible()
    page.screenshot(path=f"{SHOTS}/replay-768.png")


def test_another_officers_person_is_not_found(page, portal_url, walk):
    sign_in(page, portal_url, walk["stranger"]["username"])
    response = page.goto(portal_url + walk["url"])
    assert response.status == 404
    assert "not found" in page.inner_text(".error")
