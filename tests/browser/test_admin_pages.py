"""Caseload administration in Chromium: officers (create with a generated password shown once, role,
district, deactivation), districts, gateways and cameras (token shown once), devices; the API's refusals
appear in the form; only command and admins get in."""

import pytest

from tests.browser.session import sign_in
from tests.factories import unique

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-oversight"


@pytest.fixture(scope="module")
def office(admin_api):
    county = admin_api.district()
    town = admin_api.call(
        "POST",
        "/districts",
        201,
        json={"code": unique("T"), "name": "镇 town", "level": "township", "parent_id": county["id"]},
    )
    command = admin_api.officer(county["id"], role="command")
    officer = admin_api.officer(county["id"])
    auditor = admin_api.officer(county["id"], role="auditor")
    person = admin_api.supervisee(county["id"], officer["id"])
    device = admin_api.device(person["id"])
    return {
        "county": county,
        "town": town,
        "command": command,
        "officer": officer,
        "auditor": auditor,
        "device": device,
    }


def test_command_creates_an_officer_and_sees_the_password_once(page, browser, portal_url, office):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, portal_url, office["command"]["username"])
    page.click("header nav a[href='/admin']")
    username = unique("new")
    form = page.locator("form.create")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=full_name]").fill("李警官 Officer Li")
    form.locator("select[name=district_id]").select_option(str(office["town"]["id"]))
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#one-time-secret:not([hidden])")
    codes = page.locator("#secret-fields code")
    assert codes.nth(0).inner_text() == username
    password = codes.nth(1).inner_text()
    assert len(password) == 16
    page.screenshot(path=f"{SHOTS}/admin-officer-created-1366.png", full_page=True)
    page.click("#secret-done")
    page.wait_for_selector("#one-time-secret[hidden]", state="attached")
    assert password not in page.content()
    row = page.locator(f"#officers tr[data-username='{username}']")
    assert "must change password" in row.inner_text()

    # The new account signs in with it and must choose its own first.
    other = browser.new_context()
    newcomer = other.new_page()
    sign_in(newcomer, portal_url, username, password)
    assert newcomer.url.endswith("/password")
    other.close()

    # A command officer cannot make an admin: the API's reason shows in the form.
    form.locator("input[name=username]").fill(unique("boss"))
    form.locator("input[name=full_name]").fill("王 Wang")
    form.locator("select[name=role]").select_option("admin")
    form.locator("button[type=submit]").click()
    assert "ask an admin" in page.locator("form.create .form-error").inner_text()

    # Change role, reset the password (a new one, shown once), then deactivate.
    row.locator("select[name=role]").select_option("supervisor")
    row.locator("form:has(select[name=role]) button").click()
    page.locator(f"#officers tr[data-username='{username}'] td:nth-child(3)", has_text="supervisor").wait_for()
    row.locator("button[name=reset]").click()
    page.wait_for_selector("#one-time-secret:not([hidden])")
    assert page.locator("#secret-fields code").nth(1).inner_text() not in ("", password)
    page.click("#secret-done")
    page.wait_for_selector("#one-time-secret[hidden]", state="attached")
    row.locator("button.danger").click()
    page.locator(f"#officers tr.inactive[data-username='{username}']").wait_for()
    page.set_viewport_size({"width": 768, "height": 1024})
    page.screenshot(path=f"{SHOTS}/admin-officers-768.png", full_page=True)


def test_register_a_camera_and_a_gateway_token_shown_once_then_revoke(page, portal_url, office):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, portal_url, office["command"]["username"])
    page.goto(f"{portal_url}/admin/sources")
    code = unique("CAM")
    camera = page.locator("form[data-path='/cameras']")
    camera.locator("input[name=code]").fill(code)
    camera.locator("input[name=name]").fill("司法所报到 office check-in")
    camera.locator("select[name=kind]").select_option("office")
    camera.locator("input[name=lat]").fill("41.3")
    camera.locator("input[name=lon]").fill("123.77")
    camera.locator("button[type=submit]").click()
    page.wait_for_selector("#one-time-secret:not([hidden])")
    token = page.locator("#secret-fields code").nth(1).inner_text()
    assert len(token) >= 20
    page.screenshot(path=f"{SHOTS}/admin-camera-token-1366.png", full_page=True)
    page.click("#secret-done")
    page.wait_for_selector("#one-time-secret[hidden]", state="attached")
    assert token not in page.content()
    row = page.locator(f"#cameras tr:has-text('{code}')")
    row.locator("button.danger").click()
    page.locator(f"#cameras tr.inactive:has-text('{code}')").wait_for()

    name = unique("平台 vendor ")
    gateway = page.locator("form[data-path='/gateways']")
    gateway.locator("input[name=name]").fill(name)
    gateway.locator("button[type=submit]").click()
    page.wait_for_selector("#one-time-secret:not([hidden])")
    page.click("#secret-done")
    page.locator(f"#gateways tr:has-text('{name}') button.danger").click()
    page.locator(f"#gateways tr.inactive:has-text('{name}')").wait_for()


def test_districts_and_devices(page, portal_url, office):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, portal_url, office["command"]["username"])
    page.goto(f"{portal_url}/admin/districts")
    rename = page.locator(f"#districts tr[data-district-id='{office['town']['id']}'] form")
    rename.locator("input[name=name]").fill("新名 renamed")
    rename.locator("button").click()
    # Renaming is an admin's: the API refuses command and the page says why.
    assert "requires role" in rename.locator(".form-error").inner_text()

    page.goto(f"{portal_url}/admin/devices")
    row = page.locator(f"#devices tr[data-device-id='{office['device']['id']}']")
    assert office["device"]["key_hint"] in row.inner_text() and "never" in row.inner_text()
    page.screenshot(path=f"{SHOTS}/admin-devices-1366.png", full_page=True)
    row.locator("button.danger").click()
    page.locator(f"#devices tr.inactive[data-device-id='{office['device']['id']}']").wait_for()


def test_only_command_and_admins_get_in(page, portal_url, office):
    sign_in(page, portal_url, office["auditor"]["username"])
    assert page.locator("header nav a[href='/admin']").count() == 0
    for path in ("/admin", "/admin/districts", "/admin/sources", "/admin/devices"):
        assert page.goto(f"{portal_url}{path}").status == 403, path
    # An officer sees none of the oversight pages in the navigation, and gets a 403 page on each.
    page.context.clear_cookies()
    sign_in(page, portal_url, office["officer"]["username"])
    assert (
        page.locator("header nav a[href='/admin'], header nav a[href='/command'], header nav a[href='/audit']").count()
        == 0
    )
    for path in ("/admin", "/command", "/audit", "/audit/chain"):
        assert page.goto(f"{portal_url}{path}").status == 403, path
