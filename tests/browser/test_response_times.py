"""The response-time report (双向监管): supervisors see their officers' figures and sort them; an
officer may not open it and has no link to it."""

import pytest
from playwright.sync_api import expect

from core.timezones import utcnow
from core.wire import AlertLevel
from tests.alerts.helpers import raise_alert, sql
from tests.browser.signed_in import signed_in_page

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-alerts"


@pytest.fixture(scope="module")
def office(admin_api):
    """Two officers: A's red was answered in 4 minutes, B's in 12."""
    district = admin_api.district()
    officers = [admin_api.officer(district["id"]) for _ in range(2)]
    for officer, minutes in zip(officers, (4, 12), strict=True):
        person = admin_api.supervisee(district["id"], officer["id"])
        alert_id = raise_alert(person["id"], utcnow(), AlertLevel.red, key=f"rt-page:{person['id']}").alert_id
        admin_api.call("POST", f"/alerts/{alert_id}/ack", json={})  # the report counts the assignee's alerts
        sql(
            "UPDATE alert SET started_at = acknowledged_at - make_interval(mins => :m) WHERE id = :id",
            m=minutes,
            id=alert_id,
        )
    return {
        "district": district,
        "officers": officers,
        "supervisor": admin_api.officer(district["id"], role="supervisor"),
    }


def officer_rows(page) -> list[int]:
    return [
        int(i) for i in page.locator("#response-times tbody tr").evaluate_all("rs => rs.map(r => r.dataset.officerId)")
    ]


def test_a_supervisor_sees_and_sorts_the_figures(browser, portal_url, office):
    a, b = (o["id"] for o in office["officers"])
    with signed_in_page(browser, portal_url, office["supervisor"]["username"]) as page:
        page.goto(f"{portal_url}/alerts")
        page.get_by_role("link", name="双向监管 Response").click()
        page.get_by_label("辖区 District").select_option(str(office["district"]["id"]))
        page.get_by_role("button", name="查询 Show").click()
        assert officer_rows(page) == [b, a]  # slowest median first
        expect(page.locator(f'tr[data-officer-id="{a}"] [data-field=median_min]')).to_have_text("4.0")
        expect(page.locator(f'tr[data-officer-id="{b}"] [data-field=overdue]')).to_have_text("0")
        page.screenshot(path=f"{SHOTS}/response-times.png")
        page.get_by_role("link", name="确认中位数(分) Median to answer, min ▼").click()
        assert officer_rows(page) == [a, b]
        page.get_by_role("link", name="民警 Officer").click()
        expect(page.locator("#response-times th[aria-sort]")).to_contain_text("民警 Officer")


def test_an_officer_may_not_open_the_report(browser, portal_url, office):
    with signed_in_page(browser, portal_url, office["officers"][0]["username"]) as page:
        page.goto(f"{portal_url}/alerts")
        expect(page.get_by_role("link", name="双向监管 Response")).to_have_count(0)
        response = page.goto(f"{portal_url}/reports/response-times")
        assert response.status == 403
        expect(page.locator("body")).to_contain_text("supervisor")
