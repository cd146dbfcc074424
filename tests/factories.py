"""Small builders for test data, through the real portal API."""

import asyncio
import itertools
import math
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

ADMIN_PASSWORD = "test-admin-password"
STAFF_PASSWORD = "test-staff-password"
CENTRE = (41.30, 123.77)
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}{uuid.uuid4().hex[:6]}"


def square(lat: float, lon: float, half_side_m: float) -> dict:
    """A GeoJSON square centred on lat/lon."""
    dlat = half_side_m / 111_195
    dlon = dlat / math.cos(math.radians(lat))
    ring = [
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
        [lon - dlon, lat - dlat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def offset(lat: float, lon: float, north_m: float = 0, east_m: float = 0) -> tuple[float, float]:
    return lat + north_m / 111_195, lon + east_m / (111_195 * math.cos(math.radians(lat)))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Api:
    """A signed-in portal client that fails loudly on unexpected status codes."""

    client: httpx.Client

    @classmethod
    def sign_in(cls, base_url: str, username: str, password: str) -> "Api":
        client = httpx.Client(base_url=base_url, timeout=20.0)
        response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return cls(client)

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.client.request(method, f"/api/v1{path}", **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def district(self, parent_id: int | None = None) -> dict:
        return self.call(
            "POST",
            "/districts",
            201,
            json={"code": unique("D"), "name": "测试区 Test district", "level": "county", "parent_id": parent_id},
        )

    def officer(
        self, district_id: int, role: str = "officer", supervisor_id: int | None = None, keep_password: bool = True
    ) -> dict:
        """An officer with STAFF_PASSWORD. ``keep_password``: waive the change at first sign-in (no second
        argon2 round per test officer); without it, the platform's default for an account someone
        else created applies."""
        body = {
            "username": unique("off"),
            "full_name": "测试 Officer",
            "password": STAFF_PASSWORD,
            "role": role,
            "district_id": district_id,
            "supervisor_id": supervisor_id,
        }
        if keep_password:
            body["must_change_password"] = False
        return self.call("POST", "/officers", 201, json=body)

    def supervisee(self, district_id: int, officer_id: int | None = None, monitored: bool = True) -> dict:
        """A supervisee; ``monitored``: with an electronic monitoring period in force (approved by
        this client, which must be a supervisor, command or admin), as the pipeline needs."""
        person = self.call(
            "POST",
            "/supervisees",
            201,
            json={
                "code": unique("S"),
                "full_name": "张三",
                "category": "probation",
                "risk_level": "medium",
                "district_id": district_id,
                "officer_id": officer_id,
                "supervision_start": "2026-01-01",
            },
        )
        if monitored:
            self.monitoring_period(person["id"])
            person = self.call("GET", f"/supervisees/{person['id']}")
        return person

    def monitoring_period(self, supervisee_id: int, starts_on: date | None = None, ends_on: date | None = None) -> dict:
        """An approved monitoring period: by default from 45 days ago to 45 days ahead, so that fixes
        stamped in the recent past count."""
        today = datetime.now(UTC).date()
        return self.call(
            "POST",
            f"/supervisees/{supervisee_id}/monitoring-periods",
            201,
            json={
                "starts_on": str(starts_on or today - timedelta(days=45)),
                "ends_on": str(ends_on or today + timedelta(days=45)),
                "grounds": ["left_area_without_approval"],
            },
        )

    def device(self, supervisee_id: int) -> dict:
        return self.call("POST", f"/supervisees/{supervisee_id}/devices", 201, json={"kind": "phone"})

    def camera(self, district_id: int, name: str = "司法所报到机 office kiosk", kind: str = "office") -> dict:
        """A camera or office check-in terminal at CENTRE, with its token (shown once)."""
        body = {"code": unique("CAM"), "name": name, "kind": kind, "district_id": district_id}
        return self.call("POST", "/cameras", 201, json={**body, "lat": CENTRE[0], "lon": CENTRE[1]})

    def home_zone(
        self, supervisee_id: int, lat: float = CENTRE[0], lon: float = CENTRE[1], half_side_m: float = 500
    ) -> dict:
        return self.call(
            "POST",
            "/zones",
            201,
            json={
                "name": "居住地 home",
                "kind": "inclusion",
                "supervisee_id": supervisee_id,
                "geometry": square(lat, lon, half_side_m),
            },
        )


def signed_in_as(base_url: str, officer: dict) -> Api:
    return Api.sign_in(base_url, officer["username"], STAFF_PASSWORD)


def eventually(check: Callable[[], Any], *, timeout_s: float = 60, every_s: float = 0.3, what: str = "") -> Any:
    """Poll until check() returns something truthy; the pipeline is asynchronous by design."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what or check}")
        time.sleep(every_s)


def post_fixes(ingest: httpx.Client, token: str, fixes: list[dict]) -> httpx.Response:
    return ingest.post("/api/v1/fixes", json={"fixes": fixes}, headers={"Authorization": f"Bearer {token}"})


def post_outside(ingest: httpx.Client, token: str, lat: float, lon: float) -> None:
    """Four fixes at lat/lon, 30 s apart in fix time and ending now: enough for the geofence to
    confirm an exit (it wants several fixes over a minute outside), and again enough on each repeat
    (a new zone has a new track, and fixes older than a track's last one are ignored)."""
    now = datetime.now(UTC)
    fixes = [
        {"ts": (now - timedelta(seconds=s)).isoformat(), "lat": lat, "lon": lon, "accuracy_m": 10}
        for s in (90, 60, 30, 0)
    ]
    response = post_fixes(ingest, token, fixes)
    assert response.status_code == 202 and response.json()["accepted"] == len(fixes), response.text


def run_async(coroutine: Coroutine) -> Any:
    """asyncio.run on a thread of its own: when the browser tests ran first, Playwright's sync API
    keeps an event loop on the main thread."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()
