"""Travel leave (请假外出) in Chromium: the officer requests it with the destination drawn on the map,
a supervisor approves it with a note (the officer has no such button, and the record shows who and
when), and the officer records the return (销假)."""

from datetime import date, datetime, timedelta

import pytest

from tests.browser.session import sign_in
from tests.factories import signed_in_as

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-zones"


@pytest.fixture(scope="module")
def office(admin_api, portal_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    person = admin_api.supervisee(district["id"], officer["id"])
    admin_api.home_zone(person["id"])
    return {
        "officer": officer,
        "supervisor": admin_api.officer(district["id"], role="supervisor"),
        "person": person,
        "api": signed_in_as(portal_url, officer),
    }


def open_zones(page, portal_url, username: str, person: dict, width: int = 1366, height: int = 768) -> None:
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, portal_url, username)
    page.goto(f"{portal_url}/zones?supervisee_id={person['id']}")
    page.locator("#zone-map.leaflet-container").wait_for()


def test_request_approve_and_return(page, browser, portal_url, office):
    person = office["person"]
    open_zones(page, portal_url, office["officer"]["username"], person)
    page.click("#leave-form button[type=submit]")
    assert "画目的地" in page.inner_text("#leave-error")

    page.click("#draw-destination")
    box = page.locator("#zone-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.2)
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.5)
    assert "已画" in page.inner_text("#destination-state")
    assert page.locator("#zone-form").is_hidden(), "the destination is not a zone of its own"
    page.fill("#leave-form [name=destination_name]", "沈阳 Shenyang")
    first_day = date.today() + timedelta(days=10)
    page.fill("#leave-form [name=starts_on]", str(first_day))
    page.fill("#leave-form [name=ends_on]", str(first_day + timedelta(days=2)))
    page.fill("#leave-form [name=reason]", "探望住院的母亲 visiting mother in hospital")
    page.click("#leave-form button[type=submit]")
    row = page.locator("#leave-list tbody tr", has_text="沈阳 Shenyang")
    row.wait_for()
    assert "待审批" in row.inner_text()
    assert row.locator("button", has_text="批准").count() == 0, "an officer does not decide"
    (asked,) = office["api"].call("GET", f"/leaves?supervisee_id={person['id']}")
    # Whole days in Beijing time: from 00:00 of the first to 24:00 of the last.
    assert datetime.fromisoformat(asked["starts_at"]) == datetime.fromisoformat(f"{first_day}T00:00:00+08:00")
    assert datetime.fromisoformat(asked["ends_at"]) == datetime.fromisoformat(
        f"{first_day + timedelta(days=3)}T00:00:00+08:00"
    )
    assert not [z for z in office["api"].call("GET", f"/zones?supervisee_id={person['id']}") if z["travel_leave"]]

    context = browser.new_context(locale="zh-CN")
    boss = context.new_page()
    try:
        open_zones(boss, portal_url, office["supervisor"]["username"], person, width=768, height=1024)
        boss_row = boss.locator("#leave-list tbody tr", has_text="沈阳 Shenyang")
        boss_row.locator("[name=note]").fill("同意，按时销假 approved; report back on time")
        boss_row.locator("button", has_text="批准 Approve").click()
        boss.locator("#leave-list tbody tr", has_text="已批准").wait_for()
        decided = boss.locator("#leave-list tbody tr", has_text="沈阳 Shenyang").inner_text()
        assert "按时销假" in decided and "测试 Officer" in decided
        boss.screenshot(path=f"{SHOTS}/leave-approved-768.png", full_page=True)
    finally:
        context.close()

    page.reload()
    row.locator("button", has_text="销假").click()
    page.locator("#leave-list tbody tr", has_text="已销假").wait_for()
    page.locator("#leave-list").scroll_into_view_if_needed()
    page.screenshot(path=f"{SHOTS}/leave-returned-1366.png", full_page=True)
    (back,) = office["api"].call("GET", f"/leaves?supervisee_id={person['id']}")
    assert back["decision"] == "approved" and back["returned_by"] == office["officer"]["id"]
