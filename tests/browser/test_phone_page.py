"""The supervisee's phone page /m/ (#16) in Chromium with mobile emulation and a fake geolocation:
sign-in by link or typed code, the status, positions sent while open, a leave asked and approved and
returned from, an officer's message read, and a revoked link sending the page back to sign-in."""

from pathlib import Path

import pytest

from tests.browser.session import sign_in
from tests.factories import CENTRE, eventually, signed_in_as

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-phone")
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "geolocation": {"latitude": CENTRE[0], "longitude": CENTRE[1], "accuracy": 15},
    "permissions": ["geolocation"],
}


class World:
    def __init__(self, admin_api, portal_url: str) -> None:
        county = admin_api.district()
        officer = admin_api.officer(county["id"])
        self.staff = signed_in_as(portal_url, officer)
        self.supervisor = signed_in_as(portal_url, admin_api.officer(county["id"], role="supervisor"))
        self.portal_url = portal_url
        self.officer = officer
        self.person = admin_api.supervisee(county["id"], officer["id"])
        admin_api.home_zone(self.person["id"])

    def link(self) -> dict:
        return self.staff.call("POST", f"/supervisees/{self.person['id']}/phone-links", 201)


@pytest.fixture(scope="module")
def world(admin_api, portal_url) -> World:
    SHOTS.mkdir(exist_ok=True)
    return World(admin_api, portal_url)


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


def test_the_officer_s_link_signs_the_phone_in_and_revoking_it_signs_it_out(world, page, phone):
    """The staff side: the supervisee page's panels make the link (shown once) and revoke it."""
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, world.portal_url, world.officer["username"])
    page.goto(f"{world.portal_url}/supervisees/{world.person['id']}")
    page.get_by_role("button", name="生成登录链接 Make a sign-in link").click()
    page.locator("#phone-link-issued").wait_for()
    url = page.locator('#phone-link-issued [data-link="url"]').inner_text()
    assert url.startswith(f"{world.portal_url}/m/?code=")
    assert page.locator('#phone-link-issued [data-link="qr"]').get_attribute("src").startswith("data:image/svg+xml")
    page.get_by_label("发给对象的手机页面 To the person's phone page").fill("请保持手机开机 keep your phone on")
    page.get_by_role("button", name="发送 Send").click()
    page.locator("#messages-sent").get_by_text("未读 unread").wait_for()
    page.locator("#phone-panels").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "staff-panels.png"))

    phone.goto(url)
    phone.locator("#message-list").get_by_text("请保持手机开机").wait_for()
    page.reload()
    page.locator("#phone-links").get_by_text("已登录 signed in").wait_for()
    page.locator("#phone-links").get_by_role("button", name="撤销 Revoke").click()
    page.locator("#phone-links").get_by_text("已撤销 revoked").wait_for()
    phone.get_by_role("button", name="标为已读 Mark read").click()
    phone.locator("#sign-in").wait_for()
    assert phone.locator("#notice").inner_text().startswith("登录已失效")


def test_signing_in_by_link_then_leave_messages_and_revocation(world, phone):
    link = world.link()
    phone.goto(link["url"])
    phone.locator("#who").get_by_text(world.person["code"]).wait_for()
    assert phone.url.endswith("/m/"), "the one-time code is taken out of the address bar"
    phone.locator("#position-line").get_by_text("位置已上报").wait_for()
    assert phone.locator("#status-words").inner_text() in ("暂无定位", "你在规定区域内")

    # 请假: the place typed, the window and reason; the officer approves; the person reports back.
    phone.get_by_text("申请请假 Ask for leave").click()
    phone.get_by_label("目的地 Destination").fill("沈阳 Shenyang")
    phone.get_by_label("纬度 Latitude").fill("41.80")
    phone.get_by_label("经度 Longitude").fill("123.43")
    phone.get_by_label("事由 Reason").fill("探亲 visiting family")
    phone.screenshot(path=str(SHOTS / "leave-form.png"), full_page=True)
    phone.get_by_role("button", name="提交申请 Send the request").click()
    phone.locator("#leave-list .leave").get_by_text("待审批 Waiting").wait_for()
    leave_id = phone.locator("#leave-list .leave").first.get_attribute("data-leave-id")
    world.supervisor.call("POST", f"/leaves/{leave_id}/approve", json={"note": "注意安全"})
    world.staff.call("POST", f"/supervisees/{world.person['id']}/messages", 201, json={"body": "明天上午九点来司法所"})

    phone.reload()
    phone.locator("#leave-list .leave").get_by_text("已批准 Approved").wait_for()
    unread = phone.locator("#message-list .message.unread", has_text="明天上午九点来司法所")
    assert unread.is_visible()
    phone.screenshot(path=str(SHOTS / "home.png"), full_page=True)
    unread.get_by_role("button", name="标为已读 Mark read").click()
    phone.locator("#message-list .message.read", has_text="明天上午九点来司法所").wait_for()
    phone.get_by_role("button", name="我已返回 I'm back").click()
    phone.locator("#leave-list").get_by_text("已销假").wait_for()
    assert world.staff.call("GET", f"/leaves/{leave_id}")["returned_at"] is not None

    link_id = world.staff.call("GET", f"/supervisees/{world.person['id']}/phone-links")[0]["id"]
    world.staff.call("POST", f"/phone-links/{link_id}/revoke")
    phone.reload()
    phone.locator("#sign-in").wait_for()
    assert phone.locator("#home").is_hidden()


def test_a_typed_code_signs_in_and_a_wrong_one_says_why(world, phone):
    phone.set_viewport_size({"width": 360, "height": 740})  # the smallest phone the page is made for
    phone.goto(f"{world.portal_url}/m/")
    phone.get_by_label("登录码 Sign-in code").fill("not-a-code")
    phone.get_by_role("button", name="登录 Sign in").click()
    error = phone.locator("#sign-in-form .error")
    error.get_by_text("not valid").wait_for()
    phone.screenshot(path=str(SHOTS / "sign-in-refused.png"))
    phone.get_by_label("登录码 Sign-in code").fill(world.link()["code"])
    phone.get_by_role("button", name="登录 Sign in").click()
    phone.locator("#who").get_by_text(world.person["code"]).wait_for()
    eventually(lambda: phone.locator("#home").is_visible(), what="the home")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360, "nothing wider than the phone"
    phone.screenshot(path=str(SHOTS / "home-360.png"))


def test_a_roll_call_appears_without_reload_and_is_answered_with_a_photo_and_the_position(world, phone):
    phone.goto(world.link()["url"])
    phone.locator("#who").get_by_text(world.person["code"]).wait_for()
    call = {"mode": "phone", "audience": {"supervisee_ids": [world.person["id"]]}, "message": "请应答"}
    called = world.staff.call("POST", "/rollcalls", 201, json=call)
    pending = phone.locator("#rollcall-list .rollcall.mode-phone")
    pending.get_by_text("请应答").wait_for()  # over the stream: the page was not reloaded
    assert pending.locator(".countdown").inner_text().startswith("剩余 ")
    phone.screenshot(path=str(SHOTS / "rollcall-pending.png"))

    photo = phone.screenshot(type="jpeg")  # a camera's picture: any JPEG the page must downscale
    with phone.expect_file_chooser() as chooser:
        pending.get_by_role("button", name="立即应答 Answer now").click()
    chooser.value.set_files(files=[{"name": "me.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    phone.locator("#answer-result.ok").get_by_text("已按时应答").wait_for()
    phone.locator("#no-rollcalls").wait_for()
    phone.screenshot(path=str(SHOTS / "rollcall-answered.png"))
    [target] = world.staff.call("GET", f"/rollcalls/{called['id']}/targets")
    assert target["status"] == "answered" and target["has_photo"]
    assert abs(target["lat"] - CENTRE[0]) < 1e-6 and abs(target["lon"] - CENTRE[1]) < 1e-6
