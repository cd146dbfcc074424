"""Geofence engine throughput: fix-zone evaluations per second, in one process (one core), for a
simulated fleet's real fixes against each person's wall, barred place and curfew (schedules,
accuracy circles, binding tiers), in Kafka-sized batches; against one PostGIS ST_Contains query per
fix in the same run. The state machines after the evaluation are timed apart (stderr).
Last stdout line: one JSON object."""

import sys
import time
from datetime import UTC, datetime

import numpy as np
from tqdm import tqdm

from bench import common, simulated
from simulators import city, fleet, stream

BATCH_FIXES = 20_000
BASELINE_QUERIES = 2_000


def simulated_batches(people: fleet.Fleet, hours: float) -> list[dict[str, np.ndarray]]:
    # From 20:00 local, so the curfew starts and ends inside the run.
    start = datetime(2026, 11, 16, 12, tzinfo=UTC)
    chunks = [simulated.fix_columns(c) for c in stream.run(people, start=start, duration_s=hours * 3600)]
    columns = {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}
    n = len(columns["ts_us"])
    return [{k: v[i : i + BATCH_FIXES] for k, v in columns.items()} for i in range(0, n, BATCH_FIXES)]


def engine_rate(people: fleet.Fleet, batches: list[dict[str, np.ndarray]]) -> float:
    """Fix-zone evaluations per second: schedules, accuracy circles against zones, binding tiers
    (``engine.observe``). The state machines that follow are timed apart, on stderr."""
    from geofence import engine
    from geofence.config import get_geofence_settings
    from geofence.tracks import Tracks

    began = time.perf_counter()
    index = engine.ZoneIndex(simulated.rule_zones(people))
    print(f"{len(index):,} zones compiled in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    tracks = Tracks(get_geofence_settings().thresholds())
    pairs = events = 0
    evaluating = tracking = 0.0
    for batch in tqdm(batches, desc="engine", unit="batch", file=sys.stderr):
        pairs += len(index.pairs(batch["supervisee_id"])[0])
        began = time.perf_counter()
        observations = engine.observe(index, batch, 30.0)
        evaluated = time.perf_counter()
        events += len(tracks.advance(index, observations, batch))
        evaluating += evaluated - began
        tracking += time.perf_counter() - evaluated
    fixes = sum(len(b["ts_us"]) for b in batches)
    print(
        f"{fixes:,} fixes, {pairs:,} fix-zone pairs: evaluated in {evaluating:.2f} s; state machines "
        f"{tracking:.2f} s ({events:,} events); whole engine {pairs / (evaluating + tracking):,.0f} pairs/s",
        file=sys.stderr,
    )
    return pairs / evaluating


def postgis_rate(people: fleet.Fleet, batch: dict[str, np.ndarray]) -> float:
    """One ST_Contains query per fix against the person's electronic wall, as a naive design would."""
    import psycopg
    from shapely.geometry import shape

    from core.config import get_settings
    from ops.embedded import admin_dsn
    from simulators import zones

    common.prepare()
    settings = get_settings()
    with psycopg.connect(admin_dsn(settings, settings.pg_database), autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE wall (supervisee_id int PRIMARY KEY, geom geometry(Polygon, 4326))")
        with conn.cursor().copy("COPY wall FROM STDIN") as copy:
            for p in range(people.size):
                wall = shape(zones.person_zones(people, p)[0]["geometry"])
                copy.write_row((simulated.supervisee_id(p), f"SRID=4326;{wall.wkt}"))
        conn.execute("CREATE INDEX ON wall USING gist (geom)")
        rows = list(zip(batch["supervisee_id"].tolist(), batch["lon"].tolist(), batch["lat"].tolist(), strict=True))
        began = time.perf_counter()
        for person, lon, lat in rows[:BASELINE_QUERIES]:
            conn.execute(
                "SELECT ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) FROM wall WHERE supervisee_id = %s",
                (lon, lat, person),
            ).fetchone()
        return min(BASELINE_QUERIES, len(rows)) / (time.perf_counter() - began)


def main(quick: bool = False) -> int:
    people = fleet.build(city.PRESETS["benxi"], 2_000 if quick else 20_000, seed=1)
    batches = simulated_batches(people, hours=1 if quick else 3)
    baseline = postgis_rate(people, batches[0])
    value = engine_rate(people, batches)
    common.report(
        "geofence",
        "fix_zone_evaluations_per_s",
        value,
        "evaluations/s",
        "one PostGIS ST_Contains query per fix",
        baseline,
        ">= 5000000 evaluations/s per core",
    )
    return 0
