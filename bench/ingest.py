"""End-to-end ingest: fixes/s from HTTP batches to rows committed in PostGIS, against the naive
design (one INSERT + one ST_Contains per fix, autocommit) measured in the same run.

Runs its own platform instance (database ``ewall_bench``, ports 25055/28000, fresh topics) so it
never disturbs ``./ewall up``. Last stdout line: one JSON object."""

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta

BENCH_ENV = {
    "EWALL_PG_DATABASE": "ewall_bench",
    "EWALL_TOPIC_PREFIX": f"bench{os.getpid()}.",
    "EWALL_INGEST_PORT": "25055",
    "EWALL_PORTAL_PORT": "28000",
}
INSTANCE = "bench"
BATCH = 1000
CONCURRENCY = 8


def _prepare():
    os.environ.update({k: v for k, v in BENCH_ENV.items() if k not in os.environ or k == "EWALL_TOPIC_PREFIX"})
    from core.config import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    from ops import embedded, stack

    if settings.embedded_database:
        embedded.ensure_postgres(settings)
        embedded.drop_database(settings, settings.pg_database)
    stack.prepare_services(settings)
    return settings


def _fleet(people: int) -> list[dict]:
    """People with a home zone and a device, created through the services."""
    from caseload import schemas as cs
    from caseload import service as caseload_service
    from caseload.models import Category, DistrictLevel
    from core.db import session_scope
    from geofence import schemas as gs
    from geofence import service as geofence_service
    from ops import seed

    fleet = []
    with session_scope() as session:
        admin = seed.ensure_admin(session, "bench-admin-password")
        district = caseload_service.create_district(
            session=session, viewer=admin, data=cs.DistrictIn(code="BENCH", name="bench", level=DistrictLevel.county)
        )
        for n in range(people):
            lat, lon = 41.2 + n * 0.001, 123.7
            person = caseload_service.create_supervisee(
                session=session,
                viewer=admin,
                data=cs.SuperviseeIn(
                    code=f"B{n}",
                    full_name="bench",
                    category=Category.parole,
                    district_id=district.id,
                    supervision_start=datetime(2026, 1, 1).date(),
                ),
            )
            zone = geofence_service.create(
                session=session,
                viewer=admin,
                data=gs.ZoneIn(
                    name="home", kind="inclusion", supervisee_id=person.id, geometry=seed._circle(lat, lon, 1000)
                ),
            )
            _, token = caseload_service.create_device(
                session=session, viewer=admin, supervisee_id=person.id, data=cs.DeviceIn()
            )
            fleet.append({"supervisee_id": person.id, "zone_id": zone.id, "token": token, "lat": lat, "lon": lon})
    return fleet


def naive_baseline(fleet: list[dict], count: int) -> float:
    """The design ewall replaces: per fix, one INSERT and one ST_Contains, each committed."""
    import psycopg

    from core.config import get_settings
    from ops.embedded import admin_dsn

    settings = get_settings()
    start = datetime.now(UTC) - timedelta(hours=6)
    with psycopg.connect(admin_dsn(settings, settings.pg_database), autocommit=True) as conn:
        began = time.perf_counter()
        for i in range(count):
            person = fleet[i % len(fleet)]
            ts = start + timedelta(milliseconds=i)
            lat, lon = person["lat"] + (i % 50) * 1e-4, person["lon"]
            conn.execute(
                "INSERT INTO fix (supervisee_id, ts, device_id, lat, lon, accuracy_m, source, received_at) "
                "VALUES (%s, %s, 0, %s, %s, 10, 'gps', now()) ON CONFLICT DO NOTHING",
                (person["supervisee_id"], ts, lat, lon),
            )
            conn.execute(
                "SELECT ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) FROM zone WHERE id = %s",
                (lon, lat, person["zone_id"]),
            ).fetchone()
        elapsed = time.perf_counter() - began
        conn.execute("DELETE FROM fix WHERE device_id = 0")
    return count / elapsed


def _request_bodies(fleet: list[dict], total: int) -> list[tuple[str, bytes]]:
    """Every request (token, JSON body), built before the clock starts so the client's own work is
    not measured."""
    start = datetime.now(UTC) - timedelta(hours=5)
    per_person = total // len(fleet)
    bodies = []
    for person in fleet:
        for offset in range(0, per_person, BATCH):
            fixes = [
                {
                    "ts": (start + timedelta(milliseconds=offset + i)).isoformat(),
                    "lat": person["lat"] + ((offset + i) % 50) * 1e-4,
                    "lon": person["lon"],
                    "accuracy_m": 10,
                }
                for i in range(min(BATCH, per_person - offset))
            ]
            bodies.append((person["token"], json.dumps({"fixes": fixes}).encode()))
    return bodies


async def _post_all(url: str, bodies: list[tuple[str, bytes]]) -> None:
    import httpx

    jobs = list(reversed(bodies))

    async def worker(client):
        while jobs:
            token, body = jobs.pop()
            for _ in range(5):
                response = await client.post(
                    "/api/v1/fixes",
                    content=body,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
                if response.status_code == 202:
                    break
                await asyncio.sleep(1)
            else:
                raise RuntimeError(f"ingest refused a batch: {response.status_code} {response.text[:200]}")

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))


def end_to_end(settings, fleet: list[dict], total: int) -> float:
    from sqlalchemy import text

    from core.db import session_scope

    url = f"http://{settings.host}:{settings.ingest_port}"
    bodies = _request_bodies(fleet, total)
    began = time.perf_counter()
    asyncio.run(_post_all(url, bodies))
    print(f"posted {total} fixes in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    expected = total // len(fleet) * len(fleet)
    while True:
        with session_scope() as session:
            stored = session.execute(text("SELECT count(*) FROM fix WHERE device_id <> 0")).scalar_one()
        if stored >= expected:
            return expected / (time.perf_counter() - began)
        if time.perf_counter() - began > 600:
            raise RuntimeError(f"only {stored} of {expected} fixes stored after 10 minutes")
        time.sleep(0.05)


def main(quick: bool = False) -> int:
    settings = _prepare()
    from ops import stack

    fleet = _fleet(20)
    stack.stop(settings, INSTANCE)
    stack.start(settings, INSTANCE)
    try:
        baseline = naive_baseline(fleet, 1000 if quick else 5000)
        value = end_to_end(settings, fleet, 40_000 if quick else 400_000)
    finally:
        stack.stop(settings, INSTANCE)
    print(
        json.dumps(
            {
                "bench": "ingest",
                "metric": "end_to_end_fixes_per_s",
                "value": round(value),
                "unit": "fixes/s",
                "baseline": "naive: one INSERT + one ST_Contains per fix, autocommit",
                "baseline_value": round(baseline),
                "ratio": round(value / baseline, 2),
                "target": ">= 100000 fixes/s and >= 75x baseline",
            }
        )
    )
    return 0
