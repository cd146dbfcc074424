"""Roll-call answers against the running platform: phone answers over HTTP (on time, late, after the
close, 人机分离, refusals), camera and office answers from real sightings, photo retention, and the
officer's verification."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text

from caseload.models import PhonePageLink
from core import bus
from core.db import session_scope
from core.timezones import display_tz, utcnow
from rollcall import answers, photos
from rollcall.models import RollCallMode, RollCallPhoto, RollCallTarget, TargetStatus, Verification
from tests.factories import CENTRE, eventually, offset, post_fixes, signed_in_as
from tests.rollcall.answer_helpers import PHOTO, answer, phone_sign_in, roll_call


class RollcallEvents:
    """What the answer path published on rollcall.v1 since the module began."""

    def __init__(self):
        self.consumer = bus.tail_consumer([bus.ROLLCALL])
        self.seen: list[dict] = []

    def about(self, target_id: int, kind: str, expected: int = 1) -> list[dict]:
        def found():
            for batch in self.consumer.poll(timeout_ms=200).values():
                self.seen += [bus.decode(r.value) for r in batch]
            hits = [e for e in self.seen if e.get("target_id") == target_id and e["kind"] == kind]
            return hits if len(hits) >= expected else None

        return eventually(found, timeout_s=20, what=f"{kind} event of target {target_id}")

    def rules_of(self, target_id: int) -> list[str]:
        return sorted(e["rule"] for e in self.seen if e.get("target_id") == target_id and e["kind"] == "outcome")


@pytest.fixture(scope="module")
def world(admin_api, portal_url, ingest_url):
    """A district with an officer and five people, each with a tracker that reported at CENTRE a
    minute ago and a signed-in phone page."""
    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    people = [admin_api.supervisee(district["id"], officer["id"]) for _ in range(5)]
    events = RollcallEvents()
    with httpx.Client(base_url=ingest_url, timeout=20) as ingest:
        for person in people:
            device = admin_api.device(person["id"])
            fix = {
                "device_id": device["external_id"],
                "ts": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                "lat": CENTRE[0],
                "lon": CENTRE[1],
                "accuracy_m": 10,
            }
            assert post_fixes(ingest, device["token"], [fix]).status_code == 202
    ids = [p["id"] for p in people]
    eventually(lambda: _fixes_stored(ids) == len(ids), what="the trackers' fixes in the database", timeout_s=30)
    signed_in = [phone_sign_in(p["id"]) for p in people]
    with httpx.Client(base_url=portal_url, timeout=20) as portal:
        yield {
            "district": district,
            "officer": officer,
            "people": people,
            "links": [link for link, _ in signed_in],
            "tokens": [token for _, token in signed_in],
            "portal": portal,
            "events": events,
        }
    events.consumer.close()


def _fixes_stored(supervisee_ids: list[int]) -> int:
    with session_scope() as session:
        return session.scalar(
            text("SELECT count(DISTINCT supervisee_id) FROM fix WHERE supervisee_id = ANY(:ids)"),
            {"ids": supervisee_ids},
        )


def _target(target_id: int) -> RollCallTarget:
    with session_scope() as session:
        target = session.get(RollCallTarget, target_id)
        session.expunge(target)
        return target


def test_an_answer_on_time_is_recorded_with_the_tracker_distance_and_photo(world):
    person, token = world["people"][0], world["tokens"][0]
    [target_id] = roll_call([person["id"]])
    lat, lon = offset(*CENTRE, north_m=120)
    response = answer(world["portal"], token, target_id, lat, lon)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "answered" and response.json()["separated"] is False
    target = _target(target_id)  # committed before the 200
    assert target.status == TargetStatus.answered and target.answered_via == "phone"
    assert target.tracker_distance_m == pytest.approx(120, abs=2)
    assert (target.answer_lat, target.answer_lon, target.answer_accuracy_m) == (lat, lon, 15)
    assert target.verification == Verification.queued
    with session_scope() as session:
        photo = session.get(RollCallPhoto, target_id)
        assert photo.content == PHOTO and photo.content_type == "image/jpeg"
        assert photo.expires_at - photo.taken_at == timedelta(days=180)
    [event] = world["events"].about(target_id, "answered")
    assert event["status"] == "answered" and event["separated"] is False and event["via"] == "phone"
    assert world["events"].rules_of(target_id) == []


def test_a_late_answer_is_a_yellow_outcome(world):
    [target_id] = roll_call([world["people"][1]["id"]], issued_ago=timedelta(minutes=15))
    response = answer(world["portal"], world["tokens"][1], target_id, *CENTRE)
    assert response.status_code == 200 and response.json()["status"] == "late", response.text
    [late] = world["events"].about(target_id, "outcome")
    assert (late["rule"], late["level"], late["supervisee_id"]) == ("rollcall_late", "yellow", world["people"][1]["id"])
    assert 290 <= late["evidence"]["late_s"] <= 400


def test_an_answer_after_the_close_is_kept_and_stays_missed(world):
    person_id, token = world["people"][2]["id"], world["tokens"][2]
    # Not yet marked missed by the deadline timer: the answer marks it, and raises the red alert once.
    [unmarked] = roll_call([person_id], issued_ago=timedelta(minutes=40))
    response = answer(world["portal"], token, unmarked, *CENTRE)
    assert response.status_code == 200 and response.json()["status"] == "missed", response.text
    [missed] = world["events"].about(unmarked, "outcome")
    assert (missed["rule"], missed["level"]) == ("rollcall_missed", "red")
    # Already marked missed: recorded, still missed, no new outcome.
    [marked] = roll_call([person_id], issued_ago=timedelta(minutes=40), status=TargetStatus.missed)
    response = answer(world["portal"], token, marked, *CENTRE)
    assert response.status_code == 200 and response.json()["status"] == "missed", response.text
    world["events"].about(marked, "answered")
    assert world["events"].rules_of(marked) == []
    assert _target(marked).answered_at is not None


def test_an_answer_far_from_the_tracker_is_red_identity_check_failed(world, admin_api):
    person_id = world["people"][3]["id"]
    [target_id] = roll_call([person_id])
    lat, lon = offset(*CENTRE, east_m=5000)
    response = answer(world["portal"], world["tokens"][3], target_id, lat, lon, accuracy_m=30)
    assert response.status_code == 200 and response.json() == {
        "status": "answered",
        "answered_at": response.json()["answered_at"],
        "separated": True,
    }
    [failed] = world["events"].about(target_id, "outcome")
    assert (failed["rule"], failed["level"]) == ("identity_check_failed", "red")
    evidence = failed["evidence"]
    assert evidence["distance_m"] == pytest.approx(5000, abs=20)
    assert evidence["answer"]["accuracy_m"] == 30 and evidence["tracker"]["accuracy_m"] == 10
    assert evidence["tracker"]["lat"] == CENTRE[0]
    alerts = eventually(lambda: admin_api.call("GET", "/alerts", params={"supervisee_id": person_id}), what="alert")
    assert [(a["rule"], a["level"]) for a in alerts] == [("identity_check_failed", "red")]


def test_refused_answers_say_why(world, admin_api):
    portal, person, token = world["portal"], world["people"][4], world["tokens"][4]
    [mine, camera_call] = [roll_call([person["id"]])[0], roll_call([person["id"]], mode=RollCallMode.camera)[0]]
    [someone_elses] = roll_call([world["people"][0]["id"]])
    staff_token = admin_api.client.headers["Authorization"].removeprefix("Bearer ")

    def refused(status: int, response: httpx.Response) -> str:
        assert response.status_code == status, response.text
        return str(response.json()["detail"])

    assert "not signed in" in refused(401, answer(portal, None, mine, *CENTRE))
    assert "invalid or expired" in refused(401, answer(portal, staff_token, mine, *CENTRE))
    assert "no such roll call" in refused(404, answer(portal, token, someone_elses, *CENTRE))
    assert "no such roll call" in refused(404, answer(portal, token, 10**15, *CENTRE))
    assert "camera" in refused(409, answer(portal, token, camera_call, *CENTRE))
    assert "not base64" in refused(422, answer(portal, token, mine, *CENTRE, photo="not base64!"))
    assert "not a JPEG" in refused(422, answer(portal, token, mine, *CENTRE, photo="R0lGODlhAQABAAAAACw="))
    assert "larger than" in refused(413, answer(portal, token, mine, *CENTRE, photo="/9j/" + "A" * 1_500_000))
    assert "lat" in refused(422, answer(portal, token, mine, 91, 0))
    assert "extra" in refused(422, answer(portal, token, mine, *CENTRE, selfie=True))
    assert "ts" in refused(422, answer(portal, token, mine, *CENTRE, ts=datetime.now(UTC) - timedelta(hours=2)))
    assert answer(portal, token, mine, *CENTRE).status_code == 200
    assert "already been answered" in refused(409, answer(portal, token, mine, *CENTRE))
    # Revoking the link ends the phone's session at once.
    [later] = roll_call([person["id"]])
    with session_scope() as session:
        session.get(PhonePageLink, world["links"][4]).revoked_at = utcnow()
    assert "revoked" in refused(401, answer(portal, token, later, *CENTRE))
    assert _target(later).status == TargetStatus.pending


def _post_sighting(ingest_url: str, camera: dict, person: dict, at: datetime, kind: str = "sighting") -> None:
    with httpx.Client(base_url=ingest_url, timeout=20) as ingest:
        sighting = {"person_code": person["code"], "ts": at.isoformat(), "confidence": 0.95, "kind": kind}
        response = ingest.post(
            "/api/v1/sightings", json={"sightings": [sighting]}, headers={"Authorization": f"Bearer {camera['token']}"}
        )
        assert response.status_code == 202 and response.json()["accepted"] == 1, response.text


def test_camera_and_office_roll_calls_are_answered_by_sightings(world, admin_api, ingest_url):
    person = admin_api.supervisee(world["district"]["id"], world["officer"]["id"])
    street = admin_api.camera(world["district"]["id"], name="路口 crossing", kind="camera")
    office = admin_api.camera(world["district"]["id"])
    today = datetime.now(display_tz()).date()
    [by_camera] = roll_call(
        [person["id"]], mode=RollCallMode.camera, issued_ago=timedelta(minutes=70), deadline_min=60, close_min=120
    )
    [at_office] = roll_call(
        [person["id"]], mode=RollCallMode.office, office_date=today, deadline_min=1440, close_min=1440
    )
    seen_at = datetime.now(UTC) - timedelta(minutes=1)
    _post_sighting(ingest_url, street, person, seen_at)
    _post_sighting(ingest_url, office, person, datetime.now(UTC), kind="report")
    # The rollcall worker reads sightings.v1 and answers through rollcall.answers.
    [late] = world["events"].about(by_camera, "outcome")
    assert (late["rule"], late["level"], late["evidence"]["via"]) == ("rollcall_late", "yellow", "camera")
    world["events"].about(at_office, "answered")
    assert world["events"].rules_of(at_office) == []
    camera_target, office_target = _target(by_camera), _target(at_office)
    assert (camera_target.status, camera_target.answered_via) == (TargetStatus.late, "camera")
    assert camera_target.camera_id == street["id"] and camera_target.answer_lat == CENTRE[0]
    assert camera_target.answered_at == seen_at
    assert (office_target.status, office_target.answered_via) == (TargetStatus.answered, "office")
    assert office_target.verification == Verification.not_needed
    replayed = {
        "camera_id": street["id"],
        "supervisee_id": person["id"],
        "ts_us": int(seen_at.timestamp() * 1_000_000),
        "kind": "sighting",
        "confidence": 0.95,
    }
    with session_scope() as session:  # a replayed sighting changes nothing
        assert answers.record_sightings(session, [replayed]) == []


def test_photos_past_their_retention_are_purged(world):
    [old, kept] = roll_call([world["people"][0]["id"], world["people"][1]["id"]])
    taken = utcnow()
    with session_scope() as session:
        photos.store(session, [photos.NewPhoto(t, "image/jpeg", PHOTO, taken) for t in (old, kept)])
        session.get(RollCallPhoto, old).expires_at = taken - timedelta(seconds=1)
    with session_scope() as session:
        assert photos.purge_expired(session, batch_rows=1) >= 1
    with session_scope() as session:
        left = set(session.scalars(select(RollCallPhoto.target_id).where(RollCallPhoto.target_id.in_([old, kept]))))
    assert left == {kept}


def test_officers_verify_photos_and_a_rejection_is_red(world, admin_api, portal_url):
    people, tokens = world["people"], world["tokens"]
    confirm, reject = roll_call([people[0]["id"]])[0], roll_call([people[1]["id"]])[0]
    for target_id, token in ((confirm, tokens[0]), (reject, tokens[1])):
        assert answer(world["portal"], token, target_id, *CENTRE).status_code == 200
    officer = signed_in_as(portal_url, world["officer"])
    queued = officer.call("GET", "/rollcall-verifications", params={"limit": 1000})
    mine = {row["target_id"]: row for row in queued}
    assert {confirm, reject} <= set(mine) and mine[confirm]["has_photo"] is True
    assert mine[confirm]["person_code"] == people[0]["code"] and mine[confirm]["verification"] == "queued"
    photo = officer.client.get(f"/api/v1/rollcall-targets/{confirm}/photo")
    assert photo.status_code == 200 and photo.content == PHOTO
    assert photo.headers["content-type"] == "image/jpeg" and photo.headers["cache-control"] == "private, no-store"
    auditor = signed_in_as(portal_url, admin_api.officer(world["district"]["id"], role="auditor"))
    auditor.call("POST", f"/rollcall-targets/{confirm}/verify", 403, json={"confirmed": True})
    stranger = signed_in_as(portal_url, admin_api.officer(admin_api.district()["id"]))
    stranger.call("GET", f"/rollcall-targets/{confirm}/photo", 404)
    stranger.call("POST", f"/rollcall-targets/{confirm}/verify", 404, json={"confirmed": True})
    confirmed = officer.call("POST", f"/rollcall-targets/{confirm}/verify", json={"confirmed": True})
    assert confirmed["verification"] == "confirmed" and confirmed["verified_by"] == world["officer"]["id"]
    rejected = officer.call("POST", f"/rollcall-targets/{reject}/verify", json={"confirmed": False, "note": "不是本人"})
    assert rejected["verification"] == "rejected" and rejected["verification_note"] == "不是本人"
    [failed] = world["events"].about(reject, "outcome")
    assert (failed["rule"], failed["level"], failed["evidence"]["check"]) == ("identity_check_failed", "red", "photo")
    assert world["events"].rules_of(confirm) == []
    still_queued = {row["target_id"] for row in officer.call("GET", "/rollcall-verifications")}
    assert not {confirm, reject} & still_queued
