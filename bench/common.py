"""What the benchmarks share: an isolated platform instance, a small fleet, the naive baseline."""

import os
import time
from datetime import UTC, datetime, timedelta

BENCH_ENV = {
    "EWALL_PG_DATABASE": "ewall_bench",
    "EWALL_INGEST_PORT": "25055",
    "EWALL_PORTAL_PORT": "28000",
}
# Another instance name (with its own EWALL_PG_DATABASE and ports) runs two benchmarks side by side.
INSTANCE = os.environ.get("EWALL_BENCH_INSTANCE", "bench")


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


def fleet(people: int) -> list[dict]:
    """People with a home zone and a device, created through the services."""
    from caseload import schemas as cs
    from caseload import service as caseload_service
    from caseload.models import Category, DistrictLevel
    from core.db import session_scope
    from geofence import schemas as gs
    from geofence import service as geofence_service
    from ops import seed

    people_out = []
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
            device, token = caseload_service.create_device(
                session=session, viewer=admin, supervisee_id=person.id, data=cs.DeviceIn()
            )
            people_out.append(
                {
                    "supervisee_id": person.id,
                    "zone_id": zone.id,
                    "token": token,
                    "key": device.external_id,
                    "lat": lat,
                    "lon": lon,
                }
            )
    return people_out


def naive_baseline(people: list[dict], count: int) -> float:
    """Fixes/s of the design ewall replaces: per fix, one INSERT and one ST_Contains, each committed."""
    import psycopg

    from core.config import get_settings
    from ops.embedded import admin_dsn

    settings = get_settings()
    start = datetime.now(UTC) - timedelta(hours=6)
    with psycopg.connect(admin_dsn(settings, settings.pg_database), autocommit=True) as conn:
        began = time.perf_counter()
        for i in range(count):
            person = people[i % len(people)]
            lat, lon = person["lat"] + (i % 50) * 1e-4, person["lon"]
            conn.execute(
                "INSERT INTO fix (supervisee_id, ts, device_id, lat, lon, accuracy_m, source, received_at) "
                "VALUES (%s, %s, 0, %s, %s, 10, 'gps', now()) ON CONFLICT DO NOTHING",
                (person["supervisee_id"], start + timedelta(milliseconds=i), lat, lon),
            )
            conn.execute(
                "SELECT ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) FROM zone WHERE id = %s",
                (lon, lat, person["zone_id"]),
            ).fetchone()
        elapsed = time.perf_counter() - began
        conn.execute("DELETE FROM fix WHERE device_id = 0")
    return count / elapsed


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
