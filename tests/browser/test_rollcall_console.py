"""The roll-call console in Chromium: launching a roll call lists its people; an answer shows on the
open page without a reload (row, counts, map); excusing; the rule editor's create, edit and refused
input; statistics; an auditor's read-only view; and who may open which page."""

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.session import sign_in
from tests.factories import ADMIN_PASSWORD, CENTRE, offset, signed_in_as
from tests.rollcall.answer_helpers import PHOTO, answer, people_with_trackers, phone_sign_in

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-console"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def county(admin_api, portal_url, ingest_url):
    """A district with an officer, a supervisor, an auditor and four people, each with a tracker that
    reported at CENTRE a minute ago and a signed-in phone page."""
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    people = people_with_trackers(admin_api, ingest_url, district["id"], officer["id"], 4)
    with httpx.Client(base_url=portal_url, timeout=20) as portal:
        yield {
            "district": district,
            "officer": officer,
            "api": signed_in_as(portal_url, officer),
            "supervisor": admin_api.officer(district["id"], role="supervisor"),
            "auditor": admin_api.officer(district["id"], role="auditor"),
            "people": people,
            "phones": {p["id"]: phone_sign_in(p["id"])[1] for p in people},
            "portal": portal,
        }


def answer_from_phone(county, target: dict, north_m: float) -> dict:
    """The person answers on their phone page, north_m metres north of where their tracker is."""
    token = county["phones"][target["supervisee_id"]]
    sent = answer(county["portal"], token, target["id"], *offset(*CENTRE, north_m=north_m))
    assert sent.status_code == 200, sent.text
    return sent.json()


def test_launch_lists_the_people_and_answers_arrive_live(page, portal_url, county):
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, county["officer"]["username"])
    page.click("header nav >> text=点名 Roll calls")
    page.click("#launch button[type=submit]")  # no one chosen yet: the API's reason shows
    expect(page.locator("#launch .form-error")).to_contain_text("422")
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
    answer_from_phone(county, by_person[first["id"]], north_m=40)
    assert answer_from_phone(county, by_person[second["id"]], north_m=3000)["separated"] is True

    first_row = page.locator(f'#targets tr[data-target-id="{by_person[first["id"]]["id"]}"]')
    expect(first_row).to_contain_text("已答 answered", timeout=WAIT_MS)
    expect(first_row).to_contain_text("40 m")
    expect(first_row).to_contain_text("待核验 queued")
    second_row = page.locator(f'#targets tr[data-target-id="{by_person[second["id"]]["id"]}"]')
    expect(second_row).to_contain_text("人机分离", timeout=WAIT_MS)
    expect(page.locator('[data-count="answered"]')).to_have_text("2", timeout=WAIT_MS)
    expect(page.locator('[data-count="pending"]')).to_have_text("0")
    expect(page.locator("#rollcall-map .leaflet-interactive")).to_have_count(
        4, timeout=WAIT_MS
    )  # 2 answers, tracker, line
    assert page.evaluate("window.sameDocument") is True
    page.screenshot(path=f"{SHOTS}/watch.png", full_page=True)
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet: map above the list
    page.screenshot(path=f"{SHOTS}/watch-tablet.png", full_page=True)

    # The recent list counts them too.
    page.goto(f"{portal_url}/rollcalls")
    listed = page.locator(f'#rollcall-list tr[data-roll-call-id="{roll_call_id}"]')
    expect(listed).to_contain_text("2")
    page.locator("#rollcall-list").screenshot(path=f"{SHOTS}/list.png")


def test_excusing_a_person_and_cancelling_the_roll_call(page, portal_url, county):
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
    page.click("#cancel-rollcall button[type=submit]")  # unconfirmed: the browser holds the form back
    expect(page.locator("#cancel-rollcall input[name=confirm]:invalid")).to_have_count(1)
    expect(page.locator("#state")).to_have_text("进行中 open")
    page.check("#cancel-rollcall input[name=confirm]")
    page.click("#cancel-rollcall button[type=submit]")
    expect(page.locator("#state")).to_have_text("已取消 cancelled")
    expect(page.locator("#cancel-rollcall")).to_have_count(0)


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


def test_verification_queue_shows_the_photos_side_by_side_and_takes_a_verdict(page, portal_url, county):
    person = county["people"][3]
    county["api"].call("PUT", f"/supervisees/{person['id']}/enrolment-photo", 204, content=PHOTO)
    calls = [
        county["api"].call(
            "POST", "/rollcalls", 201, json={"mode": "phone", "audience": {"supervisee_ids": [person["id"]]}}
        )
        for _ in range(2)
    ]
    targets = [county["api"].call("GET", f"/rollcalls/{c['id']}/targets")[0] for c in calls]
    for target in targets:
        answer_from_phone(county, target, north_m=20)
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, county["officer"]["username"])
    page.goto(f"{portal_url}/rollcalls/verify")
    confirmed, rejected = (page.locator(f'.verify-item[data-target-id="{t["id"]}"]') for t in targets)
    expect(confirmed).to_be_visible()
    for img in ("answer-photo", "enrolment-photo"):  # both images really loaded
        expect(confirmed.locator(f'[data-field="{img}"]')).to_have_js_property("complete", True)
        assert confirmed.locator(f'[data-field="{img}"]').evaluate("i => i.naturalWidth") > 0
    page.screenshot(path=f"{SHOTS}/verify.png", full_page=True)

    confirmed.locator("button.confirm").focus()  # from the keyboard
    page.keyboard.press("Enter")
    expect(confirmed).to_have_count(0)
    rejected.locator("input[name=note]").fill("不是本人 someone else")
    rejected.locator("button.reject").click()
    expect(rejected).to_have_count(0)
    verdicts = {
        t["id"]: county["api"].call("GET", f"/rollcalls/{t['roll_call_id']}/targets")[0]["verification"]
        for t in targets
    }
    assert verdicts == {targets[0]["id"]: "confirmed", targets[1]["id"]: "rejected"}


def test_rule_editor_creates_refuses_and_edits(page, portal_url, county):
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, county["supervisor"]["username"])
    page.goto(f"{portal_url}/rollcalls/rules")
    form = page.locator("#rule-form")
    form.locator("select[name=district_id]").select_option(str(county["district"]["id"]))
    form.locator("input[name=times_per_period]").fill("2")
    form.locator("input[name=window_start]").fill("22:00")
    form.locator("input[name=window_end]").fill("08:00")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-error")).to_contain_text("window_end")  # the API's reason, shown
    form.locator("input[name=window_start]").fill("08:00")
    form.locator("input[name=window_end]").fill("22:00")
    form.locator("button[type=submit]").click()
    row = page.locator("#rules tbody tr", has_text=county["district"]["name"])
    expect(row).to_contain_text("× 2")
    expect(row).to_contain_text("08:00–22:00")

    row.locator("button.edit").click()
    expect(page.locator("#rule-form-heading")).to_contain_text("Edit rule")
    form.locator("input[name=times_per_period]").fill("3")
    form.locator("select[name=period]").select_option("week")
    form.locator("button[type=submit]").click()
    expect(row).to_contain_text("每周 per week × 3")
    page.screenshot(path=f"{SHOTS}/rules.png", full_page=True)
    [rule] = county["api"].call("GET", f"/rollcall-rules?district_id={county['district']['id']}")
    assert (rule["times_per_period"], rule["period"]) == (3, "week")

    # An officer sees the rules but no editor.
    sign_in(page, portal_url, county["officer"]["username"])
    page.goto(f"{portal_url}/rollcalls/rules")
    expect(page.locator("#rules tbody tr", has_text=county["district"]["name"])).to_be_visible()
    expect(page.locator("#rule-form")).to_have_count(0)


def test_statistics_count_the_officers_roll_calls(page, portal_url, county):
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, county["supervisor"]["username"])
    page.goto(f"{portal_url}/rollcalls/stats")
    mine = page.locator(f'#stats-officers tr[data-id="{county["officer"]["id"]}"]')
    expect(mine).to_be_visible()
    expected = county["api"].call("GET", "/rollcalls/stats")
    [row] = [r for r in expected["officers"] if r["id"] == county["officer"]["id"]]
    expect(mine.locator("td").nth(1)).to_have_text(str(row["called"]))
    expect(page.locator(f'#stats-districts tr[data-id="{county["district"]["id"]}"]')).to_be_visible()
    page.screenshot(path=f"{SHOTS}/stats.png", full_page=True)


def test_enrolment_photo_is_uploaded_and_shown_on_request(page, portal_url, county, admin_api):
    person = admin_api.supervisee(county["district"]["id"], county["officer"]["id"])
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, county["officer"]["username"])
    page.goto(f"{portal_url}/supervisees/{person['id']}")
    expect(page.locator("#no-enrolment-photo")).to_be_visible()
    upload = page.locator("#enrolment-upload")
    upload.locator("input[type=file]").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "image/jpeg", "buffer": b"not an image"}]
    )
    upload.locator("button[type=submit]").click()
    expect(upload.locator(".form-error")).to_contain_text("422")  # the API's reason, beside the control
    upload.locator("input[type=file]").set_input_files(
        files=[{"name": "face.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}]
    )
    upload.locator("button[type=submit]").click()
    page.locator("#show-enrolment-photo").click()
    photo = page.locator("#enrolment-photo")
    expect(photo).to_be_visible()
    expect(photo).to_have_js_property("complete", True)
    assert photo.evaluate("i => i.naturalWidth") > 0
    page.locator("#enrolment").screenshot(path=f"{SHOTS}/enrolment.png")


def test_admin_navigation_keeps_one_line_with_roll_calls(page, portal_url):
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, portal_url, "admin", ADMIN_PASSWORD)
    page.goto(f"{portal_url}/rollcalls")
    expect(page.locator("header nav a", has_text="点名 Roll calls")).to_have_attribute("aria-current", "page")
    page.screenshot(path=f"{SHOTS}/console-admin.png")
    assert page.locator("header").bounding_box()["height"] < 60  # nine sections, still one line at 1366 px
