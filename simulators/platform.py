"""Registering a simulated fleet on a running platform through its portal API, as an administrator
would: a district, supervisees with their phones and zones, a gateway for batch posting, cameras.

Device tokens are shown once by the platform, so the registration is kept in a state file (mode
0600) and reused by later runs with the same seed and size."""

import asyncio
import itertools
import json
import random
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from tqdm import tqdm

from simulators import zones
from simulators.fleet import DATUMS, Fleet

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
CATEGORIES = ("probation", "probation", "probation", "control", "parole", "temporary_release")
CONCURRENCY = 16


class PlatformError(RuntimeError):
    """The platform refused or could not be reached; the message says what to do."""


@dataclass
class Registration:
    seed: int
    size: int
    district_id: int
    supervisee_ids: list[int]
    device_keys: list[str]  # the platform-generated secret ids phones report
    device_tokens: list[str]
    gateway_token: str
    camera_tokens: list[str]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))
        path.chmod(0o600)

    @classmethod
    def load(cls, path: Path, fleet: Fleet) -> "Registration | None":
        if not path.exists():
            return None
        registration = cls(**json.loads(path.read_text()))
        return registration if (registration.seed, registration.size) == (fleet.seed, fleet.size) else None


class Portal:
    """An authenticated portal API client whose errors say what failed and why."""

    def __init__(self, url: str, username: str, password: str):
        self._client = httpx.AsyncClient(base_url=url.rstrip("/") + "/api/v1", timeout=30.0)
        self._credentials = {"username": username, "password": password}

    async def __aenter__(self) -> "Portal":
        try:
            answer = await self._client.post("/auth/token", data=self._credentials)
        except httpx.HTTPError as exc:
            raise PlatformError(
                f"portal unreachable at {self._client.base_url} ({exc}); is ./ewall up running?"
            ) from exc
        if answer.status_code != 200:
            raise PlatformError(f"portal login as {self._credentials['username']} refused: {answer.text}")
        self._client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        return self

    async def __aexit__(self, *_) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, **kwargs) -> dict | list:
        try:
            answer = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise PlatformError(f"{method} {path} failed: {exc}") from exc
        if answer.status_code >= 400:
            raise PlatformError(f"{method} {path} answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()


async def register(
    fleet: Fleet,
    portal_url: str,
    username: str,
    password: str,
    *,
    district_code: str,
    state_file: Path,
    progress: bool = True,
) -> Registration:
    """Create (once) everything the fleet needs on the platform; later calls return the saved state."""
    if existing := Registration.load(state_file, fleet):
        async with Portal(portal_url, username, password) as portal:
            await _keep_monitored(portal, existing)
        return existing
    async with Portal(portal_url, username, password) as portal:
        district_id = await _district(portal, district_code, fleet)
        officers = [
            o["id"]
            for o in await portal.call("GET", "/officers")
            if o["district_id"] == district_id and o["role"] == "officer" and o["active"]
        ]
        names = random.Random(fleet.seed)
        results: list = [None] * fleet.size
        bar = tqdm(total=fleet.size, desc="registering supervisees", unit="person", disable=not progress)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def person(p: int, name: str) -> None:
            async with limit:
                results[p] = await _person(
                    portal, fleet, p, name, district_id, officers[p % len(officers)] if officers else None
                )
                bar.update()

        full_names = [names.choice(SURNAMES) + names.choice(GIVEN) + names.choice(GIVEN) for _ in range(fleet.size)]
        await asyncio.gather(*(person(p, full_names[p]) for p in range(fleet.size)))
        bar.close()
        gateway = await portal.call(
            "POST", "/gateways", json={"name": f"simulator {fleet.seed}", "district_id": district_id}
        )
        cameras = await _cameras(portal, fleet, district_id)
    registration = Registration(
        seed=fleet.seed,
        size=fleet.size,
        district_id=district_id,
        supervisee_ids=[r[0] for r in results],
        device_keys=[r[1] for r in results],
        device_tokens=[r[2] for r in results],
        gateway_token=gateway["token"],
        camera_tokens=cameras,
    )
    registration.save(state_file)
    return registration


async def _district(portal: Portal, code: str, fleet: Fleet) -> int:
    for district in await portal.call("GET", "/districts"):
        if district["code"] == code:
            return district["id"]
    me = await portal.call("GET", "/auth/me")
    created = await portal.call(
        "POST",
        "/districts",
        json={
            "code": code,
            "name": f"{fleet.city.name} (simulated)",
            "level": "county",
            "parent_id": me["district_id"],
        },
    )
    return created["id"]


async def _person(portal: Portal, fleet: Fleet, p: int, name: str, district_id: int, officer_id: int | None) -> tuple:
    rng = random.Random(fleet.seed * 100_003 + p)
    supervisee = await portal.call(
        "POST",
        "/supervisees",
        json={
            "code": fleet.codes[p],
            "full_name": name,
            "category": rng.choice(CATEGORIES),
            "risk_level": rng.choice(["low", "medium", "medium", "high"]),
            "district_id": district_id,
            "officer_id": officer_id,
            "supervision_start": date(2026, 1, 1).isoformat(),
        },
    )
    # Positions are taken only within an approved monitoring period (社区矫正法 art. 29: at most 3
    # months): one from a month back, so replayed days count, to two months ahead (89 days, the
    # shortest 3 calendar months).
    await _approve_period(portal, supervisee["id"], datetime.now(UTC).date() - timedelta(days=30))
    device = await portal.call(
        "POST", f"/supervisees/{supervisee['id']}/devices", json={"datum": DATUMS[fleet.datum[p]]}
    )
    for zone in zones.person_zones(fleet, p):
        await portal.call("POST", "/zones", json=zone | {"supervisee_id": supervisee["id"], "buffer_m": 0})
    return supervisee["id"], device["external_id"], device["token"]


async def _approve_period(portal: Portal, supervisee_id: int, starts_on: date) -> None:
    # 89 days: the shortest span of 3 calendar months, the most the law allows at a time.
    await portal.call(
        "POST",
        f"/supervisees/{supervisee_id}/monitoring-periods",
        json={
            "starts_on": starts_on.isoformat(),
            "ends_on": (starts_on + timedelta(days=89)).isoformat(),
            "grounds": ["left_area_without_approval"],
            "assessment": "simulated",
        },
    )


async def _keep_monitored(portal: Portal, registration: Registration) -> None:
    """A fleet registered earlier gets a new period for whoever has none in force (it ran out, or the
    fleet predates monitoring periods): outside one, the platform refuses their positions."""
    ours, lapsed, page = set(registration.supervisee_ids), [], 5000
    for offset in itertools.count(0, page):
        people = await portal.call("GET", "/supervisees", params={"active": "true", "limit": page, "offset": offset})
        lapsed += [p["id"] for p in people if p["id"] in ours and p.get("monitoring") is None]
        if len(people) < page:
            break
    today = datetime.now(UTC).date()
    limit = asyncio.Semaphore(CONCURRENCY)

    async def renew(supervisee_id: int) -> None:
        async with limit:
            periods = await portal.call("GET", f"/supervisees/{supervisee_id}/monitoring-periods")
            ended = [date.fromisoformat(p["ends_on"]) for p in periods]
            starts_on = max([today - timedelta(days=30), *(end + timedelta(days=1) for end in ended)])
            if starts_on <= today:
                await _approve_period(portal, supervisee_id, starts_on)

    await asyncio.gather(*(renew(supervisee_id) for supervisee_id in lapsed))


async def caseloads(portal: Portal, registration: Registration) -> list[list[int]]:
    """The fleet's people (indices) by their officer as the platform has them now, officers in id order;
    people without an officer are left out."""
    index = {supervisee_id: p for p, supervisee_id in enumerate(registration.supervisee_ids)}
    by_officer: dict[int, list[int]] = {}
    page = 5000
    for offset in itertools.count(0, page):
        people = await portal.call("GET", "/supervisees", params={"active": "true", "limit": page, "offset": offset})
        for person in people:
            if person["id"] in index and person["officer_id"] is not None:
                by_officer.setdefault(person["officer_id"], []).append(index[person["id"]])
        if len(people) < page:
            break
    return [sorted(by_officer[officer]) for officer in sorted(by_officer)]


async def _cameras(portal: Portal, fleet: Fleet, district_id: int) -> list[str]:
    lon, lat = fleet.city.to_lonlat(fleet.cameras[:, 0], fleet.cameras[:, 1])
    tokens = []
    for c in range(len(fleet.cameras)):
        camera = await portal.call(
            "POST",
            "/cameras",
            json={
                "code": f"SIMCAM{fleet.seed:03d}-{c:04d}",
                "name": "司法所 judicial office" if c == 0 else f"camera {c}",
                "kind": "office" if c == 0 else "camera",
                "district_id": district_id,
                "lat": float(lat[c]),
                "lon": float(lon[c]),
            },
        )
        tokens.append(camera["token"])
    return tokens


async def approve_leave(portal: Portal, registration: Registration, fleet: Fleet, episode: dict) -> None:
    """An ``approved_leave`` episode's travel leave, registered before it starts (请假外出)."""
    p = fleet.codes.index(episode["supervisee"])
    await portal.call(
        "POST",
        "/zones",
        json={
            "name": "请假外出 approved travel leave",
            "kind": "inclusion",
            "travel_leave": True,
            "supervisee_id": registration.supervisee_ids[p],
            "geometry": zones.leave_zone(episode),
            "valid_from": datetime.fromtimestamp(episode["leave"]["from"], UTC).isoformat(),
            "valid_to": datetime.fromtimestamp(episode["leave"]["to"], UTC).isoformat(),
        },
    )


def state_path(run_dir: Path, seed: int, size: int) -> Path:
    return run_dir / f"simulator-{seed}-{size}.json"
