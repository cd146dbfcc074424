"""A page already signed in, for tests about what comes after the sign-in: the session cookie is
fetched once per officer through the sign-in form's endpoint and given to a fresh browser context,
which skips the form and the dashboard a real sign-in lands on (tests.browser.session does that)."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import httpx

from caseload.auth import SESSION_COOKIE
from tests.factories import STAFF_PASSWORD


@cache
def session_cookie(portal_url: str, username: str) -> str:
    response = httpx.post(f"{portal_url}/login", data={"username": username, "password": STAFF_PASSWORD})
    assert response.status_code == 303, response.text
    return response.cookies[SESSION_COOKIE]


@contextmanager
def signed_in_page(browser, portal_url: str, username: str) -> Iterator:
    """A page of a browser context of its own, at 1366×768, signed in as ``username``."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    cookie = {"name": SESSION_COOKIE, "value": session_cookie(portal_url, username), "url": portal_url}
    context.add_cookies([cookie | {"httpOnly": True, "sameSite": "Strict"}])
    try:
        yield context.new_page()
    finally:
        context.close()
