"""The native batch API: acceptance, per-record errors, authentication, and broker outages."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from core.config import REPO_ROOT
from tests.factories import CENTRE, eventually, now_iso, post_fixes


@pytest.fixture(scope="module")
def device(admin_api):
    district = admin_api.district()
    person = admin_api.supervisee(district["id"])
    return admin_api.device(person["id"]) | {"supervisee_id": person["id"]}


def fix(**overrides):
    return {"ts": now_iso(), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 12.5} | overrides


def test_a_batch_is_accepted_and_stored_exactly_once_even_when_posted_twice(ingest, device, db):
    start = datetime.now(UTC) - timedelta(minutes=30)
    batch = [fix(ts=(start + timedelta(seconds=10 * i)).isoformat(), lat=CENTRE[0] + i * 1e-5) for i in range(100)]
    for _ in range(2):
        response = post_fixes(ingest, device["token"], batch)
        assert response.status_code == 202
        assert response.json() == {"accepted": 100, "rejected": []}

    def stored() -> int:
        # READ COMMITTED: every statement sees what the persist worker has committed so far.
        return db.execute(
            text("SELECT count(*) FROM fix WHERE supervisee_id = :s"), {"s": device["supervisee_id"]}
        ).scalar_one()

    eventually(lambda: stored() >= 100, what="the batch in PostGIS")
    time.sleep(1.0)  # let the replayed copy arrive too
    assert stored() == 100


def test_bad_records_are_listed_and_good_ones_kept(ingest, device):
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    ancient = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    batch = [
        fix(),
        fix(lat=95),
        fix(ts=future),
        fix(ts=ancient),
        fix(lat=0, lon=0),
        fix(ts="2026-11-23T08:00:00"),
        {"lat": 1},
        fix(device_id="someone-else"),
        fix(colour="red"),
        fix(accuracy_m=-3),
    ]
    response = post_fixes(ingest, device["token"], batch)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    errors = {r["index"]: r["error"] for r in body["rejected"]}
    assert sorted(errors) == list(range(1, 10))
    assert "lat" in errors[1] and "90" in errors[1]
    assert "future" in errors[2]
    assert "retention" in errors[3]
    assert "0,0" in errors[4]
    assert "time zone" in errors[5]
    assert "ts" in errors[6]
    assert "does not match" in errors[7]
    assert "colour" in errors[8]
    assert "accuracy_m" in errors[9]


def test_a_batch_with_only_bad_records_is_422(ingest, device):
    response = post_fixes(ingest, device["token"], [fix(lon=200)])
    assert response.status_code == 422
    assert response.json()["accepted"] == 0


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"fixes": 3}', "must be an object"),
    ],
)
def test_malformed_bodies_are_422_with_the_reason(ingest, device, body, reason):
    response = ingest.post(
        "/api/v1/fixes",
        content=body,
        headers={"Authorization": f"Bearer {device['token']}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_too_large_a_batch_is_413(ingest, device):
    response = post_fixes(ingest, device["token"], [fix()] * 10_001)
    assert response.status_code == 413


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}])
def test_unknown_or_missing_token_is_401(ingest, headers):
    response = ingest.post("/api/v1/fixes", json={"fixes": [fix()]}, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_broker_down_is_503_with_retry_after_not_a_hang(services, device):
    """An ingest app whose broker is unreachable answers 503 promptly and keeps nothing."""
    port = services.ingest_port + 7
    env = os.environ | {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "EWALL_BROKER_TIMEOUT_S": "1"}
    app = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tracker_ingest.app:app", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            eventually(lambda: _up(client), timeout_s=30, what="the broker-less ingest app")
            response = post_fixes(client, device["token"], [fix()])
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()
        assert "retry" in response.json()["detail"]
    finally:
        app.terminate()
        app.wait(10)


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


def test_absent_values_are_stored_as_null_and_present_ones_exactly(ingest, admin_api, db):
    person = admin_api.supervisee(admin_api.district()["id"])
    device = admin_api.device(person["id"])
    t = datetime.now(UTC) - timedelta(minutes=10)
    fixes = [
        fix(ts=t.isoformat()),
        fix(
            ts=(t + timedelta(seconds=1)).isoformat(),
            accuracy_m=None,
            speed_mps=2.5,
            heading_deg=359.5,
            altitude_m=-3.25,
            battery_pct=7,
            source="network",
        ),
        fix(ts=(t + timedelta(seconds=2)).isoformat(), accuracy_m=None),
    ]
    assert post_fixes(ingest, device["token"], fixes).status_code == 202

    def rows():
        found = db.execute(
            text(
                "SELECT accuracy_m, speed_mps, heading_deg, altitude_m, battery_pct, source FROM fix "
                "WHERE supervisee_id = :s ORDER BY ts"
            ),
            {"s": person["id"]},
        ).all()
        return found if len(found) == 3 else None

    stored = [tuple(r) for r in eventually(rows, what="three fixes")]
    assert stored == [
        (12.5, None, None, None, None, "gps"),
        (None, 2.5, 359.5, -3.25, 7, "network"),
        (None, None, None, None, None, "gps"),
    ]
