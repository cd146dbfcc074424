"""The roll-call console in Chromium: launching a roll call lists its people; an answer shows on the
open page without a reload (row, counts, map); excusing; the rule editor's create, edit and refused
input; statistics; an auditor's read-only view; and who may open which page."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from core import bus
from tests.alerts.helpers import sql
from tests.browser.session import sign_in
from tests.factories import CENTRE, offset, signed_in_as

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-console"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def county(admin_api, portal_url):
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    people = [admin_api.supervisee(district["id"], officer["id"]) for _ in range(3)]
    return {
        "district": district,
        "officer": officer,
        "api": signed_in_as(portal_url, officer),
        "supervisor": admin_api.officer(district["id"], role="supervisor"),
        "auditor": admin_api.officer(district["id"], role="auditor"),
        "people": people,
    }


def answer(target: dict, status: str, lat: float, lon: float, distance_m: float, separated: bool) -> None:
    """Record an answer as the answers service does: the row, then after the commit the ``answered``
    event and, when phone and tracker are apart, the ``identity_check_failed`` outcome with both positions."""
    at = datetime.now(UTC)
    sql(
        "UPDATE roll_call_target SET status = :status, answered_at = :at, answered_via = 'phone', answer_lat = :lat,"
        " answer_lon = :lon, answer_accuracy_m = 10, tracker_distance_m = :d, separated = :sep,"
        " verification = 'queued' WHERE id = :id",
        status=status,
        at=at,
        lat=lat,
        lon=lon,
        d=distance_m,
        sep=separated,
        id=target["id"],
    )
    event = {
        "kind": "answered",
        "roll_call_id": target["roll_call_id"],
        "target_id": target["id"],
        "supervisee_id": target["supervisee_id"],
        "status": status,
        "answered_at": at.isoformat(),
        "via": "phone",
        "lat": lat,
        "lon": lon,
        "accuracy_m": 10,
        "tracker_distance_m": distance_m,
        "separated": separated,
    }
    events = [event]
    if separated:
        tracker = {"lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 8, "ts": at.isoformat()}
        evidence = {"answer": {"lat": lat, "lon": lon, "accuracy_m": 10}, "tracker": tracker, "distance_m": distance_m}
        events.append(
            {
                "kind": "outcome",
                "rule": "identity_check_failed",
                "level": "red",
                "supervisee_id": target["supervisee_id"],
                "roll_call_id": target["roll_call_id"],
                "target_id": target["id"],
                "ts_us": int(at.timestamp() * 1_000_000),
                "evidence": evidence,
            }
        )
    publisher = bus.Publisher()
    try:
        publisher.publish(bus.ROLLCALL, [(str(target["supervisee_id"]), bus.encode(e)) for e in events])
    finally:
        publisher.close()


def test_launch_lists_the_people_and_answers_arrive_live(page, portal_url, county):
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, county["officer"]["username"])
    page.click("header nav >> text=点名 Roll calls")
    first, second = county["people"][:2]
    for person in (first, second):
        page.fill("#person-search", person["code"])
        page.keyboard.press("Enter")
        page.check(f"#pick-{person['id']}")
    expect(page.locator("#chosen-people")).to_contain_text(second["code"])
    page.fill("input[name=message]", "请立即拍照作答 answer now")
    page.screenshot(path=f"{SHOTS}/launch.png", full_page=True)
    page.click("#launch button[type=submit]")
    page.wait_for_url("**/rollcalls/*")
    roll_call_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    expect(page.locator("#targets tbody tr")).to_have_count(2)
    expect(page.locator("#targets")).to_contain_text(first["code"])
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    targets = county["api"].call("GET", f"/rollcalls/{roll_call_id}/targets")
    by_person = {t["supervisee_id"]: t for t in targets}
    near = offset(*CENTRE, north_m=50)
    answer(by_person[first["id"]], "answered", *near, distance_m=40.0, separated=False)
    far = offset(*CENTRE, north_m=3000)
    answer(by_person[second["id"]], "late", *far, distance_m=2950.0, separated=True)

    first_row = page.locator(f'#targets tr[data-target-id="{by_person[first["id"]]["id"]}"]')
    expect(first_row).to_contain_text("已答 answered", timeout=WAIT_MS)
    expect(first_row).to_contain_text("40 m")
    second_row = page.locator(f'#targets tr[data-target-id="{by_person[second["id"]]["id"]}"]')
    expect(second_row).to_contain_text("人机分离", timeout=WAIT_MS)
    expect(page.locator('[data-count="answered"]')).to_have_text("1", timeout=WAIT_MS)
    expect(page.locator('[data-count="late"]')).to_have_text("1")
    expect(page.locator("#rollcall-map .leaflet-interactive")).to_have_count(
        4, timeout=WAIT_MS
    )  # 2 answers, tracker, line
    assert page.evaluate("window.sameDocument") is True
    page.screenshot(path=f"{SHOTS}/watch.png", full_page=True)

    # The recent list counts them too.
    page.goto(f"{portal_url}/rollcalls")
    listed = page.locator(f'#rollcall-list tr[data-roll-call-id="{roll_call_id}"]')
    expect(listed).to_contain_text("2")


def test_an_excuse_needs_a_reason_and_shows(page, portal_url, county):
    person = county["people"][2]
    call = county["api"].call(
        "POST", "/rollcalls", 201, json={"mode": "phone", "audience": {"supervisee_ids": [person["id"]]}}
    )
    sign_in(page, portal_url, county["officer"]["username"])
    page.goto(f"{portal_url}/rollcalls/{call['id']}")
    page.click("button.excuse")
    page.fill("#excuse-form textarea", "住院 in hospital")
    page.click("#excuse-form button[type=submit]")
    expect(page.locator("#targets")).to_contain_text("免答 excused")
    expect(page.locator('[data-count="excused"]')).to_have_text("1", timeout=WAIT_MS)


def test_a_person_outside_the_caseload_finds_no_roll_call(page, portal_url, county, admin_api):
    call = county["api"].call(
        "POST", "/rollcalls", 201, json={"mode": "camera", "audience": {"officer_id": county["officer"]["id"]}}
    )
    stranger = admin_api.officer(admin_api.district()["id"])
    sign_in(page, portal_url, stranger["username"])
    answer = page.goto(f"{portal_url}/rollcalls/{call['id']}")
    assert answer.status == 404
    expect(page.locator("main")).to_contain_text("Not found")


def test_auditor_sees_the_console_read_only(page, portal_url, county):
    sign_in(page, portal_url, county["auditor"]["username"])
    page.goto(f"{portal_url}/rollcalls")
    expect(page.locator("#rollcall-list")).to_be_visible()
    expect(page.locator("#launch")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Read-only")
    expect(page.locator(".rollcall-tabs a", has_text="Verification")).to_have_count(0)
    assert page.goto(f"{portal_url}/rollcalls/verify").status == 403
    page.goto(f"{portal_url}/rollcalls/rules")
    expect(page.locator("#rule-form")).to_have_count(0)
