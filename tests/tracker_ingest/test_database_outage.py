"""The database goes away and comes back: a worker backs off, says so once each way and resumes with
nothing lost and nothing dead-lettered; ingest keeps accepting devices it knows from its cache and
answers 503 with Retry-After for the ones it cannot check. Only the processes started here go
through the proxy that plays the outage; the rest of the platform is untouched."""

import os
import random
import time

import httpx
import pytest
from sqlalchemy import text

from core import bus, dlq
from tests.factories import CENTRE, eventually, now_iso, unique
from tests.faults import Process, TcpProxy, database_url_via, free_port
from tests.tracker_ingest.test_poison_records import fix_record


@pytest.fixture
def proxy(services):
    proxy = TcpProxy(services.pg_port)
    proxy.up()
    yield proxy
    proxy.down()


def stored(db, person: int) -> int:
    db.rollback()  # a fresh snapshot each time
    return db.execute(text("SELECT count(*) FROM fix WHERE supervisee_id = :p"), {"p": person}).scalar_one()


def test_persist_worker_waits_out_the_database_and_loses_nothing(services, proxy, db, tmp_path):
    # Its own topics and consumer group, so the platform's persist worker does not take the records.
    prefix = f"{services.topic_prefix}{unique('outage')}."
    own = services.model_copy(update={"topic_prefix": prefix})
    bus.ensure_topics(own)
    env = os.environ | {"DATABASE_URL": database_url_via(proxy, services), "EWALL_TOPIC_PREFIX": prefix}
    worker = Process.module("tracker_ingest.worker", env=env, log=tmp_path / "persist.log")
    publisher = bus.Publisher(own)
    person = random.randrange(2 * 10**8, 3 * 10**8)
    base_us = int(time.time() * 1e6) - 7_200_000_000

    def send(n: int) -> None:
        record = fix_record(person, [base_us + n * 10_000_000 + i * 1_000_000 for i in range(3)])
        publisher.publish(bus.FIXES, [(str(person), record)])

    try:
        send(0)
        eventually(lambda: stored(db, person) == 3, what="fixes stored before the outage")

        proxy.down()
        send(1)
        send(2)
        eventually(lambda: worker.lines("database unreachable"), what="the worker noticing the outage")
        eventually(lambda: len(worker.lines("retrying with back-off")) or None, what="back-off")
        assert stored(db, person) == 3

        proxy.up()
        eventually(lambda: stored(db, person) == 9, what="the fixes sent during the outage")
        eventually(lambda: worker.lines("database back after"), what="the worker noticing the database is back")
        send(3)
        eventually(lambda: stored(db, person) == 12, what="fixes sent after the outage")
    finally:
        publisher.close()
        worker.stop()
    assert len(worker.lines("database unreachable")) == 1
    assert len(worker.lines("database back after")) == 1
    assert not worker.lines("Traceback") and not worker.lines("dead-lettering")
    assert dlq.read_all([bus.dlq(bus.FIXES)], own) == []


def test_ingest_serves_known_devices_from_its_cache_and_503_for_the_rest(
    services, platform, admin_api, proxy, db, tmp_path
):
    person = admin_api.supervisee(admin_api.district()["id"])
    phone = admin_api.device(person["id"])
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": database_url_via(proxy, services),
        "EWALL_INGEST_DIRECTORY_TTL_S": "0.1",  # every entry is expired by the time the database goes
    }
    argv = ["tracker_ingest.app:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    app = Process.module("uvicorn", *argv, env=env, log=tmp_path / "ingest.log")
    try:
        app.wait_for_port(port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as ingest:

            def osmand(device_id: str, lat: float):
                return ingest.get("/", params={"id": device_id, "lat": lat, "lon": CENTRE[1], "timestamp": now_iso()})

            def native(token: str, lat: float):
                fix = {"ts": now_iso(), "lat": lat, "lon": CENTRE[1], "accuracy_m": 8}
                return ingest.post("/api/v1/fixes", json={"fixes": [fix]}, headers={"Authorization": f"Bearer {token}"})

            assert osmand(phone["external_id"], CENTRE[0]).status_code == 200  # cached from here on
            assert native(phone["token"], CENTRE[0] + 1e-4).status_code == 202
            time.sleep(0.2)  # past the test TTL: what follows is served stale, not fresh

            proxy.down()
            assert osmand(phone["external_id"], CENTRE[0] + 2e-4).status_code == 200
            assert app.lines("database unreachable")  # the entry had expired: it was served stale
            assert native(phone["token"], CENTRE[0] + 3e-4).status_code == 202
            unknown = [
                osmand(unique("nobody"), CENTRE[0]),
                native(unique("no-token"), CENTRE[0]),
                ingest.post("/owntracks", json={"_type": "location"}, headers={"X-Limit-U": unique("nobody")}),
                ingest.post("/api/v1/sightings", json={"sightings": []}, headers={"Authorization": "Bearer x"}),
            ]
            assert [r.status_code for r in unknown] == [503] * 4, [r.text for r in unknown]
            assert all(r.headers.get("retry-after") for r in unknown)
            proxy.up()
    finally:
        app.stop()
    assert len(app.lines("database unreachable")) == 1
    assert not app.lines("Traceback")
    # The platform's persist worker stores what this app queued, including during the outage.
    eventually(lambda: stored(db, person["id"]) == 4, what="the fixes accepted during the outage in PostGIS")
