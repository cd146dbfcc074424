"""Ingest's limits: bodies capped while read, failed sign-ins budgeted per source address, unknown
devices capped in the database, and a flood of made-up keys unable to evict known senders."""

import socket
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from core.cache import TtlCache
from core.timezones import utcnow
from tests.factories import CENTRE, now_iso, post_fixes
from tracker_ingest import positions

# Each test floods from an address of its own (all of 127/8 is loopback), so that the budget it uses
# up counts against no other test.
FLOOD_ADDRESS = "127.0.0.4"


@pytest.fixture(scope="module")
def device(admin_api):
    district = admin_api.district()
    person = admin_api.supervisee(district["id"])
    return admin_api.device(person["id"])


def test_a_body_over_the_cap_is_cut_off_while_read(ingest, ingest_url, settings, device):
    cap = settings.ingest_max_body_bytes
    head = (
        f"POST /api/v1/fixes HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {device['token']}\r\n"
    ).encode()
    chunk = b" " * 65536
    endless = [
        b"Transfer-Encoding: chunked\r\n\r\n",
        *[b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (cap // len(chunk) + 2),
    ]
    # No closing chunk: as far as the server knows that body never ends, yet it answers.
    answer = _raw(ingest_url, [head, *endless], until=str(cap).encode())
    assert answer.startswith(b"HTTP/1.1 413") and str(cap).encode() in answer, answer[:300]
    # A body declared too large is refused before a byte of it is sent.
    answer = _raw(ingest_url, [head, f"Content-Length: {cap + 1}\r\n\r\n".encode()], until=str(cap).encode())
    assert answer.startswith(b"HTTP/1.1 413") and str(cap).encode() in answer, answer[:300]
    # A full batch still fits under the cap.
    full = [{"ts": now_iso(), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 12.5}] * settings.max_batch_fixes
    assert post_fixes(ingest, device["token"], full).status_code == 202


def _raw(url: str, parts: list[bytes], until: bytes) -> bytes:
    """What the server answers to a request sent as these bytes (and nothing more)."""
    address = httpx.URL(url)
    with socket.create_connection((address.host, address.port), timeout=20) as connection:
        for part in parts:
            connection.sendall(part)
        answer = b""
        while until not in answer and (more := connection.recv(65536)):
            answer += more
    return answer


def test_a_flood_of_made_up_tokens_gets_429_but_known_senders_pass(ingest_url, settings, device):
    budget = settings.ingest_auth_failures_per_min
    transport = httpx.HTTPTransport(local_address=FLOOD_ADDRESS)
    with httpx.Client(base_url=ingest_url, transport=transport, timeout=20) as flood:
        answers = [
            flood.get("/osmand", params={"id": uuid.uuid4().hex, "lat": 41.3, "lon": 123.7}).status_code
            for _ in range(budget)
        ]
        assert answers == [401] * budget
        for attempt in (
            flood.get("/osmand", params={"id": uuid.uuid4().hex, "lat": 41.3, "lon": 123.7}),
            flood.post("/api/v1/fixes", json={"fixes": []}, headers={"Authorization": f"Bearer {uuid.uuid4().hex}"}),
            flood.post("/owntracks", json={}, auth=(uuid.uuid4().hex, uuid.uuid4().hex)),
        ):
            assert attempt.status_code == 429, attempt.text
            assert 1 <= int(attempt.headers["Retry-After"]) <= 60
        # A phone behind the same address whose identity is cached still gets through.
        assert post_fixes(flood, device["token"], []).status_code != 429


def test_new_unknown_devices_are_capped_per_address_and_per_day(db):
    now = utcnow()
    pending = {("osmand", uuid.uuid4().hex): [now, now, 1, "198.51.100.7"] for _ in range(5)}
    positions.record_unknown_devices(db, pending, per_addr_hour=3, per_day=10**6)
    elsewhere = {("osmand", uuid.uuid4().hex): [now, now, 1, "198.51.100.8"] for _ in range(2)}
    positions.record_unknown_devices(db, elsewhere, per_addr_hour=3, per_day=10**6)
    count = "SELECT count(*) FROM unknown_device WHERE last_remote_addr = :a"
    assert db.scalar(text(count), {"a": "198.51.100.7"}) == 3
    assert db.scalar(text(count), {"a": "198.51.100.8"}) == 2
    # Known ones still count their attempts; nothing new past the day's cap.
    positions.record_unknown_devices(db, pending | elsewhere, per_addr_hour=3, per_day=1)
    assert db.scalar(text("SELECT sum(attempts) FROM unknown_device WHERE last_remote_addr LIKE '198.51.100.%'")) == 10
    later = now + timedelta(hours=2)
    positions.record_unknown_devices(
        db, {("osmand", "late"): [later, later, 1, "198.51.100.9"]}, per_addr_hour=3, per_day=1
    )
    assert db.scalar(text(count), {"a": "198.51.100.9"}) == 0


def test_made_up_keys_cannot_evict_a_known_sender(services):
    lookups = []

    def load(_session, key):
        lookups.append(key)
        return "known device" if key == "real" else None

    cache = TtlCache(load, ttl_s=600, max_entries=100, max_absent=10)
    assert cache.get("real") == "known device"
    for n in range(150):  # more than max_entries, which cleared the known ones too
        assert cache.get(f"made-up {n}") is None
    assert cache.cached("real") == (True, "known device")
    assert lookups.count("real") == 1
