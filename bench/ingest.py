"""End-to-end ingest: fixes/s from HTTP batches (1,000 fixes each) to rows committed in PostGIS,
against the naive design (one INSERT + one ST_Contains per fix, autocommit) in the same run. A
warm-up batch round comes first, so the figure is the running platform's, not its first seconds'.

Runs its own platform instance (database ``ewall_bench``, ports 25055/28000, fresh topics) so it
never disturbs ``./ewall up``. Last stdout line: one JSON object."""

import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta

from bench import common, loadgen

BATCH = 1000
CONCURRENCY = 8


def _requests(host: str, people: list[dict], total: int, hours_ago: int) -> list[bytes]:
    """Every request, built before the clock starts; fixes from ``hours_ago`` on, one per ms."""
    start = datetime.now(UTC) - timedelta(hours=hours_ago)
    per_person = total // len(people)
    requests = []
    for person in people:
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
            requests.append(
                loadgen.build_request(
                    "POST",
                    "/api/v1/fixes",
                    host,
                    json.dumps({"fixes": fixes}).encode(),
                    {"Authorization": f"Bearer {person['token']}", "Content-Type": "application/json"},
                )
            )
    return requests


def end_to_end(settings, people: list[dict], total: int, hours_ago: int = 5) -> float:
    expected = common.stored_fixes() + total // len(people) * len(people)
    requests = _requests(settings.host, people, total, hours_ago)
    began = time.perf_counter()
    result = asyncio.run(loadgen.run(settings.host, settings.ingest_port, requests, concurrency=CONCURRENCY))
    if set(result["statuses"]) != {202}:
        raise RuntimeError(f"ingest answered {result['statuses']}")
    print(
        f"posted {len(requests)} batches in {result['elapsed_s']:.1f} s (p99 {result['p99_ms']:.0f} ms per batch)",
        file=sys.stderr,
    )
    while (stored := common.stored_fixes()) < expected:
        if time.perf_counter() - began > 600:
            raise RuntimeError(f"only {stored} of {expected} fixes stored after 10 minutes")
        time.sleep(0.05)
    return expected / (time.perf_counter() - began)


def main(quick: bool = False) -> int:
    settings = common.prepare()
    from ops import stack

    people = common.fleet(20)
    stack.stop(settings, common.INSTANCE)
    stack.start(settings, common.INSTANCE)
    try:
        baseline = common.naive_baseline(people, 1000 if quick else 5000)
        # Warm up as a running platform is: connections open, caches and partitions ready.
        end_to_end(settings, people, 20_000, hours_ago=6)
        value = end_to_end(settings, people, 40_000 if quick else 400_000)
    finally:
        stack.stop(settings, common.INSTANCE)
    common.report(
        "ingest",
        "end_to_end_fixes_per_s",
        value,
        "fixes/s",
        "naive: one INSERT + one ST_Contains per fix, autocommit",
        baseline,
        ">= 100000 fixes/s and >= 75x baseline",
    )
    return 0
