"""The supervisee's phone page's API (#16): sign-in links made by officers and redeemed once, the phone
session (no staff token passes, no phone token passes staff routes, revocation ends it at once, a
cookie-borne change must come from our origin), the home's status in words, positions as the web
device's fixes, leave requests and returns, messages, and the roll-call stream."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from shapely.geometry import shape

from caseload.phone_page import PHONE_COOKIE
from core import bus
from officer_portal import phone_home
from tests.factories import CENTRE, eventually, signed_in_as


class World:
    def __init__(self, admin_api, portal_url: str) -> None:
        self.portal_url = portal_url
        county = admin_api.district()
        self.officer = admin_api.officer(county["id"])
        self.staff = signed_in_as(portal_url, self.officer)
        self.supervisor = signed_in_as(portal_url, admin_api.officer(county["id"], role="supervisor"))
        self.auditor = signed_in_as(portal_url, admin_api.officer(county["id"], role="auditor"))
        self.stranger = signed_in_as(portal_url, admin_api.officer(admin_api.district()["id"]))
        self.county = county
        self.admin = admin_api

    def person(self) -> dict:
        person = self.admin.supervisee(self.county["id"], self.officer["id"])
        self.admin.home_zone(person["id"])
        return person

    def link(self, person: dict) -> dict:
        return self.staff.call("POST", f"/supervisees/{person['id']}/phone-links", 201)

    def phone(self, person: dict) -> httpx.Client:
        """A phone signed in with a new link (its session is the cookie, as in the browser)."""
        client = httpx.Client(base_url=self.portal_url, timeout=20)
        answer = client.post("/api/v1/phone/sign-in", json={"code": self.link(person)["code"]})
        assert answer.status_code == 200, answer.text
        return client


@pytest.fixture(scope="module")
def world(admin_api, portal_url) -> World:
    return World(admin_api, portal_url)


def test_a_link_is_shown_once_and_redeemed_once(world):
    person = world.person()
    link = world.link(person)
    assert link["url"] == f"{world.portal_url}/m/?code={link['code']}"
    assert link["qr_svg"].startswith("data:image/svg+xml")
    listed = world.staff.call("GET", f"/supervisees/{person['id']}/phone-links")
    assert [entry["id"] for entry in listed] == [link["id"]] and "code" not in listed[0]
    world.auditor.call("POST", f"/supervisees/{person['id']}/phone-links", 403)
    world.stranger.call("POST", f"/supervisees/{person['id']}/phone-links", 404)

    with httpx.Client(base_url=world.portal_url) as phone:
        signed = phone.post("/api/v1/phone/sign-in", json={"code": link["code"]})
        assert signed.status_code == 200, signed.text
        assert signed.json()["supervisee"] == {"name": person["full_name"], "code": person["code"]}
        cookie = signed.headers["set-cookie"]
        assert f"{PHONE_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        again = phone.post("/api/v1/phone/sign-in", json={"code": link["code"]})
        assert again.status_code == 401 and "not valid" in again.json()["detail"]
        assert phone.post("/api/v1/phone/sign-in", json={"code": "made-up"}).status_code == 401
    devices = world.staff.call("GET", f"/supervisees/{person['id']}/devices")
    assert [d["kind"] for d in devices] == ["web"]
    assert world.staff.call("GET", f"/supervisees/{person['id']}/phone-links")[0]["device_id"] == devices[0]["id"]


def test_phone_and_staff_sessions_do_not_cross_and_revoking_ends_the_phone_s(world):
    person = world.person()
    phone = world.phone(person)
    token = phone.cookies[PHONE_COOKIE]
    assert phone.get("/api/v1/phone/home").status_code == 200
    staff_bearer = world.staff.client.headers["Authorization"]
    with httpx.Client(base_url=world.portal_url) as other:
        assert other.get("/api/v1/phone/home").status_code == 401
        assert other.get("/api/v1/phone/home", headers={"Authorization": staff_bearer}).status_code == 401
        assert other.get("/api/v1/supervisees", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert other.get("/api/v1/phone/home", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    link_id = world.staff.call("GET", f"/supervisees/{person['id']}/phone-links")[0]["id"]
    world.auditor.call("POST", f"/phone-links/{link_id}/revoke", 403)
    world.stranger.call("POST", f"/phone-links/{link_id}/revoke", 404)
    world.staff.call("POST", f"/phone-links/{link_id}/revoke")
    ended = phone.get("/api/v1/phone/home")
    assert ended.status_code == 401 and "ended" in ended.json()["detail"]
    world.staff.call("POST", f"/phone-links/{link_id}/revoke", 409)
    assert [d["active"] for d in world.staff.call("GET", f"/supervisees/{person['id']}/devices")] == [False]


def test_a_cookie_borne_change_must_come_from_our_origin(world):
    phone = world.phone(world.person())
    position = {"lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 15.0}
    refused = phone.post("/api/v1/phone/positions", json=position, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403 and "another site" in refused.json()["detail"]
    accepted = phone.post("/api/v1/phone/positions", json=position, headers={"Origin": world.portal_url})
    assert accepted.status_code == 202, accepted.text


def test_positions_become_the_web_device_s_fixes_and_the_status_says_where_one_is(world):
    person = world.person()
    phone = world.phone(person)
    assert phone.get("/api/v1/phone/home").json()["status"] == {"in_area": None, "words": "暂无定位"}
    posted = phone.post("/api/v1/phone/positions", json={"lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 12.0})
    assert posted.status_code == 202, posted.text
    bad = phone.post("/api/v1/phone/positions", json={"lat": 0.0, "lon": 0.0, "accuracy_m": 12.0})
    assert bad.status_code == 422 and "placeholder" in bad.json()["detail"]

    def status() -> dict | None:
        found = phone.get("/api/v1/phone/home").json()["status"]
        return found if found["in_area"] else None

    assert eventually(status, what="the web device's fix to be stored")["words"] == "你在规定区域内"
    track = world.staff.call("GET", f"/supervisees/{person['id']}/track")["features"]
    web_device = world.staff.call("GET", f"/supervisees/{person['id']}/devices")[0]["id"]
    assert [f["properties"]["device_id"] for f in track] == [web_device]


def test_leave_is_asked_from_the_phone_approved_by_staff_and_ended_by_the_person(world):
    person = world.person()
    phone = world.phone(person)
    now = datetime.now(UTC)
    body = {
        "destination_name": "沈阳 Shenyang",
        "lat": 41.80,
        "lon": 123.43,
        "radius_m": 3000,
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        "reason": "探亲 visiting family",
    }
    backwards = phone.post("/api/v1/phone/leaves", json={**body, "ends_at": (now - timedelta(hours=1)).isoformat()})
    assert backwards.status_code == 422
    asked = phone.post("/api/v1/phone/leaves", json=body)
    assert asked.status_code == 201, asked.text
    leave_id = asked.json()["id"]
    staff_view = world.staff.call("GET", f"/leaves/{leave_id}")
    assert staff_view["requested_by"] is None and staff_view["decision"] == "requested"
    assert phone.post(f"/api/v1/phone/leaves/{leave_id}/return").status_code == 409  # not approved yet

    world.supervisor.call("POST", f"/leaves/{leave_id}/approve", json={"note": "路上注意安全"})
    home = phone.get("/api/v1/phone/home").json()
    assert home["status"]["words"].startswith("请假外出中（至 ")
    assert home["leaves"][0]["decision"] == "approved" and home["leaves"][0]["decision_note"] == "路上注意安全"

    assert phone.post(f"/api/v1/phone/leaves/{leave_id}/return").status_code == 204
    returned = world.staff.call("GET", f"/leaves/{leave_id}")
    assert returned["returned_at"] is not None and returned["returned_by"] is None
    assert phone.post(f"/api/v1/phone/leaves/{leave_id}/return").status_code == 409
    assert phone.get("/api/v1/phone/home").json()["leaves"][0]["returned_at"] is not None


def test_officers_messages_are_read_on_the_phone(world):
    person, other = world.person(), world.person()
    phone = world.phone(person)
    sent = world.staff.call("POST", f"/supervisees/{person['id']}/messages", 201, json={"body": "明天上午来司法所"})
    world.auditor.call("POST", f"/supervisees/{person['id']}/messages", 403, json={"body": "x"})
    world.stranger.call("GET", f"/supervisees/{person['id']}/messages", 404)
    not_theirs = world.staff.call("POST", f"/supervisees/{other['id']}/messages", 201, json={"body": "别人的"})
    assert [m["body"] for m in phone.get("/api/v1/phone/home").json()["messages"]] == ["明天上午来司法所"]
    assert phone.post(f"/api/v1/phone/messages/{not_theirs['id']}/read").status_code == 404
    assert phone.post(f"/api/v1/phone/messages/{sent['id']}/read").status_code == 200
    assert world.staff.call("GET", f"/supervisees/{person['id']}/messages")[0]["read_at"] is not None


def test_the_stream_tells_the_page_of_its_person_s_roll_calls(world):
    person, other = world.person(), world.person()
    phone = world.phone(person)
    publisher = bus.Publisher()
    try:
        with phone.stream("GET", "/api/v1/phone/stream") as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: ready"
            for supervisee_ids, roll_call_id in (([other["id"]], 1), ([other["id"], person["id"]], 2)):
                event = {"kind": "issued", "roll_call_id": roll_call_id, "supervisee_ids": supervisee_ids}
                publisher.publish(bus.ROLLCALL, [("rollcall", bus.encode(event))])
            assert next(line for line in lines if line.startswith("event:")) == "event: rollcall"
            assert '"roll_call_id":2' in next(line for line in lines if line.startswith("data:")).replace(" ", "")
    finally:
        publisher.close()


def test_status_words():
    now = datetime.now(UTC)
    fresh, until = now - timedelta(minutes=1), now + timedelta(hours=5)

    def words(**given) -> dict:
        usual = {"ongoing": set(), "leave_until": None, "last_fix_at": fresh, "now": now}
        return phone_home.status_words(**(usual | given))

    assert words() == {"in_area": True, "words": "你在规定区域内"}
    assert words(ongoing={"inclusion_exit"}, leave_until=until)["words"] == "你已离开规定区域，请尽快返回"
    assert words(ongoing={"exclusion_entry", "inclusion_exit"})["words"] == "你已进入禁止区域，请立即离开"
    assert words(leave_until=until)["words"].startswith("请假外出中（至 ")
    assert words(last_fix_at=None) == {"in_area": None, "words": "暂无定位"}
    assert words(last_fix_at=now - timedelta(days=1))["in_area"] is None


def test_a_leave_circle_has_the_radius_asked_for():
    area = shape(phone_home.circle(41.3, 123.77, 2000))
    metres_per_degree = 111_195 * 0.7509  # cos(41.3°) for longitude; latitude's is 111,195 m
    assert area.area * 111_195 * metres_per_degree == pytest.approx(3.14159 * 2000**2, rel=0.01)


def test_the_home_lists_roll_calls_to_answer_with_the_nearest_cameras_and_report_in_dates(world):
    person = world.person()
    phone = world.phone(person)
    world.admin.camera(world.county["id"], name="十字路口 crossroads", kind="camera")
    with phone.stream("GET", "/api/v1/phone/stream") as stream:
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("event:")) == "event: ready"
        audience = {"supervisee_ids": [person["id"]]}
        called = world.staff.call("POST", "/rollcalls", 201, json={"mode": "phone", "audience": audience})
        assert next(line for line in lines if line.startswith("event:")) == "event: rollcall"
    world.staff.call("POST", "/rollcalls", 201, json={"mode": "camera", "audience": audience, "message": "到路口"})
    office_date = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    office = {"mode": "office", "audience": audience, "office_date": office_date}
    world.staff.call("POST", "/rollcalls", 201, json=office)

    home = phone.get("/api/v1/phone/home").json()
    phone_call, camera_call = home["pending_rollcalls"]
    assert phone_call["mode"] == "phone" and phone_call["deadline_at"] == called["deadline_at"].replace("Z", "+00:00")
    assert camera_call["mode"] == "camera" and camera_call["message"] == "到路口"
    assert [c["name"] for c in camera_call["nearest_cameras"]] == ["十字路口 crossroads"]
    assert [d["office_date"] for d in home["office_dates"]] == [office_date]


def test_the_page_is_installable_and_its_service_worker_is_fresh(world):
    with httpx.Client(base_url=world.portal_url) as browser:
        page = browser.get("/m/")
        assert page.status_code == 200 and '<link rel="manifest" href="/m/manifest.webmanifest">' in page.text
        manifest = browser.get("/m/manifest.webmanifest")
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        assert manifest.json()["start_url"] == "/m/" and manifest.json()["display"] == "standalone"
        for icon in manifest.json()["icons"]:
            assert browser.get(icon["src"]).status_code == 200
        worker = browser.get("/m/sw.js")
        assert worker.headers["content-type"].startswith("text/javascript")
        assert worker.headers["cache-control"] == "no-cache" and "/api/" in worker.text
