"""Signing a browser page in as a member of staff, as they would: through the sign-in form."""

from tests.factories import STAFF_PASSWORD


def sign_in(page, portal_url: str, username: str, password: str = STAFF_PASSWORD) -> None:
    page.goto(f"{portal_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
