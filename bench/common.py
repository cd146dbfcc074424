"""What the benchmarks share: an isolated platform instance, a simulated fleet registered on it and
its fixes, probe supervisees, the naive baseline."""

import asyncio
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson
from tqdm import tqdm

if TYPE_CHECKING:
    from simulators.fleet import Fleet
    from simulators.platform import Registration

BENCH_ENV = {
    "EWALL_PG_DATABASE": "ewall_bench",
    "EWALL_INGEST_PORT": "25055",
    "EWALL_PORTAL_PORT": "28000",
}
# Another instance name (with its own EWALL_PG_DATABASE and ports) runs two benchmarks side by side.
INSTANCE = os.environ.get("EWALL_BENCH_INSTANCE", "bench")
# The bench database is dropped every run; its admin gets this password.
ADMIN_PASSWORD = "bench-admin-password"
PROBE_WALL_M = 1000.0


def prepare():
    """Settings for a fresh bench database and fresh topics; services running, schema current."""
    os.environ.update({k: v for k, v in BENCH_ENV.items() if k not in os.environ})
    os.environ["EWALL_TOPIC_PREFIX"] = f"bench{os.getpid()}."
    from core.config import get_settings
    from ops import embedded, stack

    get_settings.cache_clear()
    settings = get_settings()
    if settings.embedded_database:
        embedded.ensure_postgres(settings)
        embedded.drop_database(settings, settings.pg_database)
    stack.prepare_services(settings)
    return settings


@contextmanager
def own_platform() -> Iterator:
    """This benchmark's platform instance (see ``prepare``), started fresh and stopped on the way out;
    yields its settings."""
    settings = prepare()
    from ops import stack

    stack.stop(settings, INSTANCE)
    stack.start(settings, INSTANCE)
    try:
        yield settings
    finally:
        stack.stop(settings, INSTANCE)


def simulated_fleet(settings, size: int, *, seed: int = 1) -> tuple["Fleet", "Registration"]:
    """A simulated Benxi fleet registered on the running bench instance through the portal API, as
    ``./ewall simulate`` registers one (supervisees, phones, zones, a gateway, cameras).

    Measured here: about 17 people/s through the API against 36 through the services directly, both
    bound by database round trips (audit log, token hashes); at bench sizes the API's minute or less is
    set-up time only, and it keeps one registration path instead of a second copy of it."""
    from core.db import session_scope
    from ops import seed as ops_seed
    from simulators import city, platform
    from simulators import fleet as simulated

    with session_scope() as session:
        ops_seed.ensure_admin(session, ADMIN_PASSWORD, must_change_password=False)
    people = simulated.build(city.PRESETS["benxi"], size, seed=seed)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ewall-bench-") as directory:
        # A fresh file every run: the bench database is new, so no earlier registration is valid.
        registration = asyncio.run(
            platform.register(
                people,
                f"http://{settings.host}:{settings.portal_port}",
                ops_seed.ADMIN_USERNAME,
                ADMIN_PASSWORD,
                district_code=f"SIM{seed}",
                state_file=Path(directory) / "registration.json",
            )
        )
    print(f"registered {size} simulated supervisees in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return people, registration


def simulated_fixes(people: "Fleet", count: int, *, end: datetime) -> np.ndarray:
    """The last ``count`` fixes the fleet's phones deliver before ``end`` (FIX_DTYPE, in arrival
    order), as if the fleet had been live until then: its people's last positions are recent, so
    the watchdog does not find the whole fleet's signal lost."""
    from simulators import stream

    # Phones lose GPS fixes indoors and are off now and then: about half the nominal rate arrives.
    per_s = people.size * float((1 / people.gps_interval_s).mean()) / 2
    span_s = 1.5 * count / per_s
    while True:
        kept: deque[np.ndarray] = deque()
        total = 0
        with tqdm(total=round(span_s), desc="simulating fixes", unit="sim-s", file=sys.stderr) as bar:
            for chunk in stream.run(people, start=end - timedelta(seconds=span_s), duration_s=span_s):
                # Not what phones still hold at the end (the stream delivers it after the end).
                kept.append(chunk.fixes[chunk.fixes["sent"] < end.timestamp()])
                total += len(kept[-1])
                while total - len(kept[0]) >= count:
                    total -= len(kept.popleft())
                bar.update(min(round(span_s), round(chunk.until - end.timestamp() + span_s)) - bar.n)
        if total >= count:
            return np.concatenate(kept)[-count:]
        span_s *= 2


def warm_up_and_measured(people: "Fleet", warm_up: int, measured: int) -> tuple[np.ndarray, np.ndarray]:
    """``simulated_fixes`` for a warm-up round and for the measured one. The warm-up's fixes are days
    older than the measured ones, so none of them is a replay."""
    now = datetime.now(UTC)
    return (
        simulated_fixes(people, warm_up, end=now - timedelta(days=7)),
        simulated_fixes(people, measured, end=now - timedelta(minutes=5)),
    )


def gateway_requests(host: str, registration: "Registration", fixes: np.ndarray, batch: int) -> list[bytes]:
    """The fixes in arrival order as native batch requests of ``batch`` fixes, posted with the
    fleet's gateway token as a vendor platform forwards its devices' fixes; built before any clock starts."""
    from bench import loadgen
    from simulators import senders

    headers = {"Authorization": f"Bearer {registration.gateway_token}", "Content-Type": "application/json"}
    return [
        loadgen.build_request(
            "POST",
            "/api/v1/fixes",
            host,
            orjson.dumps({"fixes": senders.native_records(registration, fixes[i : i + batch])}),
            headers,
        )
        for i in tqdm(range(0, len(fixes), batch), desc="building requests", unit="request", file=sys.stderr)
    ]


def inclusion_zones(supervisee_ids: list[int]) -> dict[int, int]:
    """supervisee id → the id of their electronic wall, for the naive baseline's containment test."""
    from core.db import session_scope
    from geofence import service as geofence_service
    from geofence.models import ZoneKind
    from ops import seed as ops_seed

    wanted = set(supervisee_ids)
    with session_scope() as session:
        admin = ops_seed.ensure_admin(session, ADMIN_PASSWORD, must_change_password=False)
        zones = geofence_service.list_zones(session=session, viewer=admin, kind=ZoneKind.inclusion)
        return {z.supervisee_id: z.id for z in reversed(zones) if z.supervisee_id in wanted}


def probes(people: "Fleet", count: int, *, beyond_wall_m: float) -> list[dict]:
    """Supervisees for probing the platform, in the fleet's city, each with an electronic wall of
    PROBE_WALL_M and a device, created through the services; ``outside`` is a point that far
    beyond the wall."""
    from caseload import monitoring
    from caseload import schemas as cs
    from caseload import service as caseload_service
    from caseload.models import Category, DistrictLevel, MonitoringGround
    from core.db import session_scope
    from geofence import schemas as gs
    from geofence import service as geofence_service
    from ops import seed
    from simulators import zones

    out = []
    with session_scope() as session:
        admin = seed.ensure_admin(session, ADMIN_PASSWORD, must_change_password=False)
        district = caseload_service.create_district(
            session=session,
            viewer=admin,
            data=cs.DistrictIn(code="PROBE", name="bench probes", level=DistrictLevel.county),
        )
        for n in tqdm(range(count), desc="creating probe supervisees", unit="person", file=sys.stderr):
            centre = np.array([(n % 50) * 100.0, (n // 50) * 100.0])  # metres on the city's plane
            person = caseload_service.create_supervisee(
                session=session,
                viewer=admin,
                data=cs.SuperviseeIn(
                    code=f"PROBE{n}",
                    full_name="bench probe",
                    category=Category.parole,
                    district_id=district.id,
                    supervision_start=datetime(2026, 1, 1).date(),
                ),
            )
            today = datetime.now(UTC).date()
            monitoring.create_period(  # only monitored people's fixes are judged (社区矫正法 art. 29)
                session=session,
                viewer=admin,
                supervisee_id=person.id,
                data=cs.MonitoringPeriodIn(
                    starts_on=today - timedelta(days=30),
                    ends_on=today + timedelta(days=59),
                    grounds=[MonitoringGround.left_area_without_approval],
                ),
            )
            zone = geofence_service.create(
                session=session,
                viewer=admin,
                data=gs.ZoneIn(
                    name="home",
                    kind="inclusion",
                    supervisee_id=person.id,
                    geometry=zones.circle(people, centre, PROBE_WALL_M),
                ),
            )
            _, token, _ = caseload_service.create_device(
                session=session, viewer=admin, supervisee_id=person.id, data=cs.DeviceIn()
            )
            lon, lat = people.city.to_lonlat(centre[0], centre[1] + PROBE_WALL_M + beyond_wall_m)
            out.append(
                {"supervisee_id": person.id, "zone_id": zone.id, "token": token, "outside": (float(lat), float(lon))}
            )
    return out


def naive_baseline(fixes: np.ndarray, registration: "Registration", count: int) -> float:
    """Fixes/s of the design ewall replaces: per fix, one INSERT and one ST_Contains, each committed.
    Positions and people are the simulated fleet's."""
    import psycopg

    from core.config import get_settings
    from ops.embedded import admin_dsn

    settings = get_settings()
    people = registration.supervisee_ids
    zone_of = inclusion_zones(people)
    rows = [
        (people[p], zone_of[people[p]], lat, lon) for p, lat, lon in fixes[["person", "lat", "lon"]][:count].tolist()
    ]
    start = datetime.now(UTC) - timedelta(hours=6)
    with psycopg.connect(admin_dsn(settings, settings.pg_database), autocommit=True) as conn:
        # Its day's partition may not exist yet (the persist worker makes them as fixes come).
        conn.execute("SELECT fix_ensure_partitions(%s, %s)", (start.date(), start.date()))
        began = time.perf_counter()
        for i, (supervisee_id, zone_id, lat, lon) in enumerate(rows):
            conn.execute(
                "INSERT INTO fix (supervisee_id, ts, device_id, lat, lon, accuracy_m, source, received_at) "
                "VALUES (%s, %s, 0, %s, %s, 10, 'gps', now()) ON CONFLICT DO NOTHING",
                (supervisee_id, start + timedelta(milliseconds=i), lat, lon),
            )
            conn.execute(
                "SELECT ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) FROM zone WHERE id = %s",
                (lon, lat, zone_id),
            ).fetchone()
        elapsed = time.perf_counter() - began
        conn.execute("DELETE FROM fix WHERE device_id = 0")
    return len(rows) / elapsed


def stored_fixes() -> int:
    from sqlalchemy import text

    from core.db import session_scope

    with session_scope() as session:
        return session.execute(text("SELECT count(*) FROM fix WHERE device_id > 0")).scalar_one()


def report(bench: str, metric: str, value: float, unit: str, baseline: str, baseline_value: float, target: str) -> None:
    import json

    print(
        json.dumps(
            {
                "bench": bench,
                "metric": metric,
                "value": round(value),
                "unit": unit,
                "baseline": baseline,
                "baseline_value": round(baseline_value),
                "ratio": round(value / baseline_value, 2),
                "target": target,
            }
        ),
        flush=True,
    )
