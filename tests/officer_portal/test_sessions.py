"""The pages' session cookie: its flags, CSRF on every state change it authenticates, sign-out as a
POST that ends the session, and the password change a new account is led to."""

import re

import httpx
import pytest

from tests.factories import STAFF_PASSWORD, unique


def page_sign_in(browser: httpx.Client, username: str, password: str = STAFF_PASSWORD, **headers) -> httpx.Response:
    return browser.post("/login", data={"username": username, "password": password}, headers=headers)


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text).group(1)


@pytest.fixture(scope="module")
def district(admin_api):
    return admin_api.district()


def test_the_cookie_is_strict_http_only_and_secure_behind_tls(portal_url, admin_api, district):
    officer = admin_api.officer(district["id"])
    with httpx.Client(base_url=portal_url) as browser:
        cookie = page_sign_in(browser, officer["username"]).headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        # Behind a TLS-terminating proxy that says so (uvicorn trusts X-Forwarded-Proto from 127.0.0.1).
        tls = page_sign_in(browser, officer["username"], **{"X-Forwarded-Proto": "https"})
        assert "; secure" in tls.headers["set-cookie"].lower()


def test_cookie_authenticated_writes_need_the_csrf_token(portal_url, admin_api, district):
    officer = admin_api.officer(district["id"])
    person = {
        "code": unique("S"),
        "full_name": "王五",
        "category": "parole",
        "district_id": district["id"],
        "supervision_start": "2026-01-01",
    }
    with httpx.Client(base_url=portal_url) as browser:
        page_sign_in(browser, officer["username"])
        token = csrf_of(browser.get("/"))
        refused = browser.post("/api/v1/supervisees", json=person)
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
        wrong = browser.post("/api/v1/supervisees", json=person, headers={"X-CSRF-Token": "0" * 64})
        assert wrong.status_code == 403
        elsewhere = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
        assert browser.post("/api/v1/supervisees", json=person, headers=elsewhere).status_code == 403
        created = browser.post("/api/v1/supervisees", json=person, headers={"X-CSRF-Token": token})
        assert created.status_code == 201, created.text

        assert browser.get("/logout").status_code == 405
        assert browser.post("/logout").status_code == 403
        signed_out = browser.post("/logout", data={"csrf_token": token})
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
        # The old cookie is revoked server-side, not only deleted from this browser.
        browser.cookies.set("ewall_session", signed_out.request.headers["cookie"].split("=", 1)[1])
        assert browser.get("/").headers["location"] == "/login"


def test_a_new_account_is_led_to_change_its_password(portal_url, admin_api, district):
    officer = admin_api.officer(district["id"], keep_password=False)
    with httpx.Client(base_url=portal_url) as browser:
        assert page_sign_in(browser, officer["username"]).headers["location"] == "/password"
        assert browser.get("/").headers["location"] == "/password"
        form = browser.get("/password")
        assert "csrf_token" in form.text
        fields = {"current_password": STAFF_PASSWORD, "new_password": "short"}
        assert browser.post("/password", data=fields | {"csrf_token": csrf_of(form)}).status_code == 400
        fields["new_password"] = "a-password-of-my-own"
        changed = browser.post("/password", data=fields | {"csrf_token": csrf_of(form)})
        assert changed.status_code == 303 and changed.headers["location"] == "/"
        assert browser.get("/").status_code == 200
