"""A fix answered 202 is never lost: the persist worker is killed mid-stream and the supervisor
restarts it."""

import os
import signal
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from ops import stack
from tests.conftest import INSTANCE
from tests.factories import CENTRE, eventually, post_fixes

BATCHES, PER_BATCH = 20, 500


def test_sigkilled_persist_worker_loses_nothing_and_duplicates_nothing(platform, admin_api, ingest, db):
    person = admin_api.supervisee(admin_api.district()["id"])
    device = admin_api.device(person["id"])
    start = datetime.now(UTC) - timedelta(hours=4)
    accepted = 0
    before = stack.process(platform, INSTANCE, "persist")
    killer = threading.Timer(0.5, lambda: os.kill(before.pid, signal.SIGKILL))
    killer.start()
    for b in range(BATCHES):
        fixes = [
            {
                "ts": (start + timedelta(seconds=b * PER_BATCH + i)).isoformat(),
                "lat": CENTRE[0] + i * 1e-6,
                "lon": CENTRE[1],
                "accuracy_m": 8,
            }
            for i in range(PER_BATCH)
        ]
        response = post_fixes(ingest, device["token"], fixes)
        assert response.status_code == 202, response.text[:300]
        accepted += response.json()["accepted"]
    killer.join()
    eventually(lambda: stack.process(platform, INSTANCE, "persist").pid not in (None, before.pid), what="a new persist")
    assert stack.process(platform, INSTANCE, "persist").restarts == before.restarts + 1

    def stored() -> int:
        return db.execute(text("SELECT count(*) FROM fix WHERE supervisee_id = :s"), {"s": person["id"]}).scalar_one()

    eventually(lambda: stored() >= accepted, timeout_s=120, what=f"{accepted} fixes in PostGIS")
    assert stored() == accepted == BATCHES * PER_BATCH
