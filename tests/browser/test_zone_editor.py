"""The zone editor (/zones) in Chromium: draw polygons, rectangles and circles with leaflet-geoman,
edit a vertex, set a schedule; the API's refusals appear on the shape and next to the field; district
zones are the supervisors'. Travel leave (请假外出): the officer requests it with the destination drawn
on the map, a supervisor approves it with a note (the officer has no such button, and the record shows
who and when), and the officer records the return (销假)."""

from datetime import date, datetime, timedelta

import pytest

from tests.browser.session import sign_in
from tests.factories import CENTRE, eventually, signed_in_as

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-zones"


@pytest.fixture(scope="module")
def office(admin_api, portal_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    person = admin_api.supervisee(district["id"], officer["id"])
    admin_api.home_zone(person["id"])
    return {
        "district": district,
        "officer": officer,
        "supervisor": admin_api.officer(district["id"], role="supervisor"),
        "auditor": admin_api.officer(district["id"], role="auditor"),
        "person": person,
        "api": signed_in_as(portal_url, officer),
    }


@pytest.fixture(scope="module")
def session_of(browser, portal_url, office):
    """A role's session cookies, signed in through the form once per module (each sign-in costs a
    password hash)."""
    cookies = {}

    def of(role: str) -> list[dict]:
        if role not in cookies:
            context = browser.new_context()
            sign_in(context.new_page(), portal_url, office[role]["username"])
            cookies[role] = context.cookies()
            context.close()
        return cookies[role]

    return of


def open_editor(page, portal_url, cookies: list[dict], query: str, size: tuple[int, int] = (1366, 768)):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.context.add_cookies(cookies)
    page.goto(f"{portal_url}/zones?{query}")
    page.locator("#zone-map.leaflet-container").wait_for()
    return page.locator("#zone-map").bounding_box()


def at(box, fx: float, fy: float) -> tuple[float, float]:
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


def draw(page, box, shape: str, points: list[tuple[float, float]]) -> None:
    """Draw with the toolbar's button and clicks on the map (a polygon ends on its first corner)."""
    page.click(f"[data-draw={shape}]")
    for fx, fy in points:
        page.mouse.click(*at(box, fx, fy))
    if shape == "Polygon":
        page.mouse.click(*at(box, *points[0]))
    page.locator("#zone-form").wait_for(state="visible")


def save(page, name: str) -> None:
    page.fill("#zone-form [name=name]", name)
    page.click("#zone-form button[type=submit]")


def zones_named(api, person, name: str) -> list[dict]:
    return [z for z in api.call("GET", f"/zones?supervisee_id={person['id']}") if z["name"] == name]


def test_draw_a_polygon_and_save_it(page, portal_url, office, session_of):
    box = open_editor(page, portal_url, session_of("officer"), f"supervisee_id={office['person']['id']}")
    draw(page, box, "Polygon", [(0.15, 0.15), (0.35, 0.12), (0.38, 0.35), (0.18, 0.4)])
    page.screenshot(path=f"{SHOTS}/zone-drawn-polygon.png")
    save(page, "工作单位 workplace")
    page.locator("#zone-list tr", has_text="工作单位 workplace").wait_for()
    (zone,) = zones_named(office["api"], office["person"], "工作单位 workplace")
    assert zone["kind"] == "inclusion" and len(zone["geometry"]["coordinates"][0][0]) == 5
    page.screenshot(path=f"{SHOTS}/zone-list-1366.png")


def test_a_drawn_circle_is_saved_as_a_polygon(page, portal_url, office, session_of):
    box = open_editor(page, portal_url, session_of("officer"), f"supervisee_id={office['person']['id']}")
    draw(page, box, "Circle", [(0.75, 0.75), (0.82, 0.75)])
    page.select_option("#zone-form [name=kind]", "exclusion")
    page.select_option("#zone-form [name=severity]", "red")
    save(page, "网吧 internet cafe")
    page.locator("#zone-list tr", has_text="网吧 internet cafe").wait_for()
    (zone,) = zones_named(office["api"], office["person"], "网吧 internet cafe")
    assert zone["geometry"]["type"] == "MultiPolygon" and len(zone["geometry"]["coordinates"][0][0]) == 65
    assert zone["kind"] == "exclusion" and zone["severity"] == "red"


def test_edit_a_vertex(page, portal_url, office, session_of):
    home = zones_named(office["api"], office["person"], "居住地 home")[0]
    open_editor(page, portal_url, session_of("officer"), f"supervisee_id={office['person']['id']}")
    page.click(f".edit-zone[data-zone-id='{home['id']}']")
    vertex = page.locator("#zone-map .marker-icon:not(.marker-icon-middle)").first
    vertex.wait_for()
    start = vertex.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 40, y - 30, steps=5)
    page.mouse.up()
    page.click("#zone-form button[type=submit]")
    after = eventually(
        lambda: (z := office["api"].call("GET", f"/zones/{home['id']}"))["geometry"] != home["geometry"] and z,
        timeout_s=10,
        what="the moved vertex saved",
    )
    assert len(after["geometry"]["coordinates"][0][0]) == 5


def test_refusals_show_on_the_shape_and_next_to_the_field(page, portal_url, office, session_of):
    box = open_editor(page, portal_url, session_of("officer"), f"supervisee_id={office['person']['id']}")
    # A bow tie: its edges cross.
    draw(page, box, "Polygon", [(0.55, 0.15), (0.75, 0.35), (0.75, 0.15), (0.55, 0.35)])
    page.fill("#zone-form [name=buffer_m]", "999999")
    save(page, "蝴蝶结 bow tie")
    buffer_error = page.locator('[data-error-for="buffer_m"]')
    buffer_error.wait_for()
    assert "buffer_m" in buffer_error.inner_text()
    assert "buffer_m" in page.locator(".leaflet-popup .shape-error").inner_text()
    page.fill("#zone-form [name=buffer_m]", "50")
    page.click("#zone-form button[type=submit]")
    page.locator(".leaflet-popup .shape-error", has_text="Self-intersection").wait_for()
    assert "Self-intersection" in page.locator('[data-error-for="geometry"]').inner_text()
    assert buffer_error.inner_text() == ""
    page.screenshot(path=f"{SHOTS}/zone-refused-on-shape.png")
    assert zones_named(office["api"], office["person"], "蝴蝶结 bow tie") == []


def test_schedule_windows_and_exceptions(page, portal_url, office, session_of):
    open_editor(page, portal_url, session_of("officer"), f"supervisee_id={office['person']['id']}")
    # Placed from the keyboard: a circle by its centre and radius.
    page.click(".keyboard-circle summary")
    page.fill("#circle-by-keyboard [name=lat]", str(CENTRE[0]))
    page.fill("#circle-by-keyboard [name=lon]", str(CENTRE[1]))
    page.fill("#circle-by-keyboard [name=radius_m]", "150")
    page.press("#circle-by-keyboard [name=radius_m]", "Enter")
    page.locator("#zone-form").wait_for(state="visible")
    page.click("#add-window")
    page.locator("#weekly-windows .days input[value='6']").uncheck()
    page.click("#add-exception")
    page.fill("#schedule-exceptions .date", "2026-12-31")
    page.fill("#zone-form [name=priority]", "10")
    page.screenshot(path=f"{SHOTS}/zone-schedule.png")
    save(page, "宵禁 curfew")
    page.locator("#zone-list tr", has_text="宵禁 curfew").wait_for()
    (zone,) = zones_named(office["api"], office["person"], "宵禁 curfew")
    assert zone["schedule"] == {
        "weekly": [{"days": [0, 1, 2, 3, 4, 5], "from": "22:00", "to": "06:00"}],
        "exceptions": [{"date": "2026-12-31", "windows": []}],
    }
    assert zone["priority"] == 10
    page.click(f".edit-zone[data-zone-id='{zone['id']}']")
    assert page.locator("#weekly-windows .window-row").count() == 1
    assert not page.locator("#weekly-windows .days input[value='6']").is_checked()


def test_district_zones_are_refused_to_an_officer_and_saved_for_a_supervisor(
    page, browser, portal_url, office, session_of
):
    district_query = f"district_id={office['district']['id']}"
    box = open_editor(page, portal_url, session_of("officer"), district_query)
    draw(page, box, "Rectangle", [(0.2, 0.6), (0.3, 0.7)])
    page.select_option("#zone-form [name=owner]", f"district:{office['district']['id']}")
    save(page, "学校 school")
    page.locator("#zone-error", has_text="supervisors").wait_for()
    assert "403" in page.locator(".leaflet-popup .shape-error").inner_text()
    page.screenshot(path=f"{SHOTS}/zone-district-refused-officer.png")

    context = browser.new_context(locale="zh-CN")
    supervisor_page = context.new_page()
    try:
        box = open_editor(supervisor_page, portal_url, session_of("supervisor"), district_query)
        draw(supervisor_page, box, "Rectangle", [(0.2, 0.6), (0.3, 0.7)])
        supervisor_page.select_option("#zone-form [name=owner]", f"district:{office['district']['id']}")
        save(supervisor_page, "学校 school")
        supervisor_page.locator("#zone-list tr", has_text="学校 school").wait_for()
        assert "全辖区" in supervisor_page.locator("#zone-list tr", has_text="学校 school").inner_text()
    finally:
        context.close()


def test_auditors_have_no_zone_editor(page, portal_url, office):
    sign_in(page, portal_url, office["auditor"]["username"])
    assert page.locator("header nav a[href='/zones']").count() == 0
    response = page.goto(f"{portal_url}/zones")
    assert response.status == 403


def test_leave_request_approval_and_return(page, browser, portal_url, office, session_of):
    person = office["person"]
    open_editor(page, portal_url, session_of("officer"), f"supervisee_id={person['id']}")
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
    assert f"{first_day} 00:00 – {first_day + timedelta(days=2)} 24:00" in row.inner_text(), "the days as asked"
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
        open_editor(boss, portal_url, session_of("supervisor"), f"supervisee_id={person['id']}", (768, 1024))
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
