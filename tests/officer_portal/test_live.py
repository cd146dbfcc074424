"""The live stream of alert changes (GET /api/v1/events/stream), through the real pipeline: fixes
outside the wall → ingest → geofence → alerts worker → alerts.v1 → the portal → the officer."""

import json
import time

import httpx
import pytest

from tests.factories import CENTRE, STAFF_PASSWORD, eventually, offset, post_outside, signed_in_as

WAIT_S = 90.0  # generous: an event crosses every worker of the pipeline
STREAM = "/api/v1/events/stream"


class EventStream:
    """A server-sent-events client that keeps every event it has read. It reads on the caller's
    thread (a socket closed by another thread would stay open under a blocked read); the stream's
    heartbeat comments let it check its deadline at least every 15 s."""

    def __init__(self, client: httpx.Client, headers: dict | None = None, path: str = STREAM):
        self.received: list[dict] = []
        request = client.build_request("GET", path, headers=headers, timeout=httpx.Timeout(20.0, read=WAIT_S))
        self._response = client.send(request, stream=True)
        assert self._response.status_code == 200, self._response.read()
        assert self._response.headers["content-type"].startswith("text/event-stream")
        self._lines = self._response.iter_lines()

    def _read_event(self, deadline: float) -> dict | None:
        event: dict = {}
        for line in self._lines:
            if not line:
                if "data" in event:
                    return event
                event = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(":")
                event[field] = value.removeprefix(" ")
            if time.monotonic() > deadline:
                return None
        raise AssertionError("the server ended the stream")

    def next(self, name: str, match=lambda data: True) -> dict:
        """The next event called ``name`` whose data matches; the ones read on the way are kept."""
        deadline = time.monotonic() + WAIT_S
        while (event := self._read_event(deadline)) is not None:
            event["data"] = json.loads(event["data"])
            self.received.append(event)
            if event.get("event") == name and match(event["data"]):
                return event
        raise AssertionError(f"no '{name}' event within {WAIT_S:.0f} s; read {self.received}")

    def alerts_about(self, supervisee_id: int) -> list[dict]:
        return [e for e in self.received if e.get("event") == "alert" and e["data"]["supervisee_id"] == supervisee_id]

    def close(self) -> None:
        self._response.close()


@pytest.fixture
def open_stream():
    """Opens streams with a signed-in client, subscribed when returned; closes them after the test."""
    opened = []

    def open_as(client: httpx.Client, headers: dict | None = None) -> EventStream:
        stream = EventStream(client, headers)
        opened.append(stream)
        stream.next("ready")  # subscribed: nothing published from now on is missed
        return stream

    yield open_as
    for stream in opened:
        stream.close()


def _person_with_a_wall(admin_api, district: dict, officer: dict) -> dict:
    person = admin_api.supervisee(district["id"], officer["id"])
    admin_api.home_zone(person["id"])
    return {**person, "token": admin_api.device(person["id"])["token"]}


@pytest.fixture(scope="module")
def two_districts(admin_api, portal_url):
    """Alice and Bob, officers of two districts, with one supervisee each."""
    people = {}
    for name in ("alice", "bob"):
        district = admin_api.district()
        officer = admin_api.officer(district["id"])
        people[name] = {
            "officer": officer,
            "api": signed_in_as(portal_url, officer),
            "person": _person_with_a_wall(admin_api, district, officer),
        }
    return people


def _walk_out(admin_api, ingest, person: dict) -> dict:
    """Report the person 1.5 km north of home (yellow: 1 km beyond the wall) until their alert opens."""
    lat, lon = offset(*CENTRE, north_m=1500)

    def opened():
        post_outside(ingest, person["token"], lat, lon)
        return admin_api.call("GET", f"/alerts?supervisee_id={person['id']}")

    return eventually(opened, every_s=1.0, what=f"an alert for {person['code']}")[0]


def test_alert_changes_reach_their_caseload_live_and_no_one_else(admin_api, ingest, two_districts, open_stream):
    alice, bob = two_districts["alice"], two_districts["bob"]
    alice_stream, bob_stream = open_stream(alice["api"].client), open_stream(bob["api"].client)

    alice_alert = _walk_out(admin_api, ingest, alice["person"])
    bob_alert = _walk_out(admin_api, ingest, bob["person"])

    opened = alice_stream.next("alert", lambda d: d["alert_id"] == alice_alert["id"] and d["kind"] == "opened")
    assert opened["id"], "each notice has an id for Last-Event-ID"
    notice = opened["data"]
    assert notice["supervisee_id"] == alice["person"]["id"]
    assert notice["supervisee_code"] == alice["person"]["code"]
    assert notice["supervisee_name"] == alice["person"]["full_name"]
    assert (notice["rule"], notice["level"], notice["status"]) == ("inclusion_exit", "yellow", "open")
    assert notice["ended_at"] is None
    bob_stream.next("alert", lambda d: d["alert_id"] == bob_alert["id"] and d["kind"] == "opened")

    # Officers' own transitions through the API are streamed too.
    alice["api"].call("POST", f"/alerts/{alice_alert['id']}/ack", json={"note": "电话已联系 called"})
    acknowledged = alice_stream.next(
        "alert", lambda d: d["alert_id"] == alice_alert["id"] and d["kind"] == "acknowledged"
    )
    assert acknowledged["data"]["status"] == "acknowledged"

    # Bob acknowledges after Alice's acknowledgement reached her stream: anything about Alice's
    # person would have reached Bob's stream before his own acknowledgement does.
    bob["api"].call("POST", f"/alerts/{bob_alert['id']}/ack", json={})
    bob_stream.next("alert", lambda d: d["alert_id"] == bob_alert["id"] and d["kind"] == "acknowledged")
    assert bob_stream.alerts_about(alice["person"]["id"]) == []

    alice["api"].call("POST", f"/alerts/{alice_alert['id']}/resolve", json={"disposition": "false_alarm"})
    resolved = alice_stream.next("alert", lambda d: d["alert_id"] == alice_alert["id"] and d["kind"] == "resolved")
    assert resolved["data"]["status"] == "resolved"
    assert alice_stream.alerts_about(bob["person"]["id"]) == []

    # A client that lost the stream after the first notice reconnects with its id: it is re-sent the
    # alert as it is now.
    resumed = open_stream(alice["api"].client, headers={"Last-Event-ID": opened["id"]})
    sync = resumed.next("alert", lambda d: d["alert_id"] == alice_alert["id"])
    assert (sync["data"]["kind"], sync["data"]["status"]) == ("sync", "resolved")
    assert resumed.alerts_about(bob["person"]["id"]) == []


@pytest.mark.parametrize("header", [None, "Bearer not-a-token"])
def test_the_stream_needs_a_signed_in_officer(portal_url, header):
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{portal_url}{STREAM}", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_the_pages_session_cookie_opens_the_stream(portal_url, two_districts, open_stream):
    """A browser's EventSource cannot send a bearer token; it sends the signed-in pages' cookie."""
    with httpx.Client(base_url=portal_url, timeout=20.0) as browser:
        signed_in = browser.post(
            "/login", data={"username": two_districts["alice"]["officer"]["username"], "password": STAFF_PASSWORD}
        )
        assert signed_in.status_code == 303 and "ewall_session" in browser.cookies
        open_stream(browser).close()
