"""End-to-end ingest: fixes/s from HTTP batches (1,000 fixes each) to rows committed in PostGIS,
against the naive design (one INSERT + one ST_Contains per fix, autocommit) in the same run. A
warm-up batch round comes first, so the figure is the running platform's, not its first seconds'.

The load is a simulated Benxi fleet (``simulators``): its phones' fixes as they arrive, with their
noise, datums, late and duplicate deliveries, posted in the native batch format through the fleet's
gateway, as a vendor platform forwards its devices' fixes. Every request body is built before the
clock starts.

Runs its own platform instance (database ``ewall_bench``, ports 25055/28000, fresh topics) so it
never disturbs ``./ewall up``. Last stdout line: one JSON object."""

import asyncio
import sys
import time

import numpy as np
import orjson

from bench import common, loadgen

BATCH = 1000
CONCURRENCY = 8
FLEET = 500


def _accepted(fixes: np.ndarray, answers: list[tuple[int, int, bytes]]) -> np.ndarray:
    """Which fixes the platform accepted, from its answers (202, or 422 when it refused them all)."""
    accepted = np.ones(len(fixes), dtype=bool)
    for index, status, body in answers:
        if status not in (202, 422):
            raise RuntimeError(f"ingest answered {status}: {body[:300]!r}")
        for rejected in orjson.loads(body)["rejected"]:
            accepted[index * BATCH + rejected["index"]] = False
    return accepted


def _rows(fixes: np.ndarray) -> int:
    """Rows the fixes make: a fix sent twice (the phones' duplicates) is stored once."""
    keys = fixes["person"].astype(np.int64) << 44 | np.round(fixes["ts"] * 1000).astype(np.int64)
    return len(np.unique(keys))


def end_to_end(settings, registration, fixes: np.ndarray) -> float:
    """Accepted fixes/s, from the first request until the last of their rows is committed."""
    before = common.stored_fixes()
    requests = common.gateway_requests(settings.host, registration, fixes, BATCH)
    began = time.perf_counter()
    result = asyncio.run(
        loadgen.run(settings.host, settings.ingest_port, requests, concurrency=CONCURRENCY, keep_bodies=True)
    )
    posted = time.perf_counter() - began
    # Counted after the posting, inside the clock: a few milliseconds, against seconds of posting.
    accepted = _accepted(fixes, result["answers"])
    expected = before + _rows(fixes[accepted])
    while (stored := common.stored_fixes()) < expected:
        if time.perf_counter() - began > 600:
            raise RuntimeError(f"only {stored - before} of {expected - before} rows stored after 10 minutes")
        time.sleep(0.05)
    elapsed = time.perf_counter() - began
    print(
        f"posted {len(requests)} batches in {posted:.1f} s (p99 {result['p99_ms']:.0f} ms per batch); "
        f"{int(accepted.sum()):,} of {len(fixes):,} fixes accepted, {expected - before:,} rows "
        f"(phones' duplicates stored once), all committed after {elapsed:.1f} s",
        file=sys.stderr,
    )
    return int(accepted.sum()) / elapsed


def main(quick: bool = False) -> int:
    with common.own_platform() as settings:
        people, registration = common.simulated_fleet(settings, 100 if quick else FLEET)
        warm_up, measured = common.warm_up_and_measured(people, 20_000, 40_000 if quick else 400_000)
        baseline = common.naive_baseline(measured, registration, 1000 if quick else 5000)
        # Warm up as a running platform is: connections open, caches and partitions ready.
        end_to_end(settings, registration, warm_up)
        value = end_to_end(settings, registration, measured)
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
