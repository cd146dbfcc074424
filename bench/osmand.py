"""Single-fix OsmAnd / Traccar Client requests per second (one GET per fix, keep-alive, as phones
send them), every request queued on the broker before its answer; the naive design (one INSERT +
one ST_Contains per fix, autocommit) measured in the same run as the baseline.

The fixes are a simulated Benxi fleet's (``simulators``), in the order its phones deliver them and
encoded as the simulator's OsmAnd sender encodes them; every request is built before the clock
starts."""

import asyncio
import sys
from urllib.parse import urlencode

from tqdm import tqdm

from bench import common, loadgen
from simulators import senders

CONCURRENCY = 256  # phones connect by the thousand; each waits for its own acknowledgement
FLEET = 500
# Ingest keeps each device's identity for 30 s per worker process. A steady fleet finds it there, so
# the warm-up sends every phone a few fixes first (over both workers, whichever takes a connection).
WARM_UP_PER_PHONE = 5


def _requests(host: str, registration, fixes) -> list[bytes]:
    return [
        loadgen.build_request("GET", "/?" + urlencode(senders.osmand_params(registration, row)), host)
        for row in tqdm(fixes.tolist(), desc="building requests", unit="request", file=sys.stderr)
    ]


def main(quick: bool = False) -> int:
    with common.own_platform() as settings:
        people, registration = common.simulated_fleet(settings, 100 if quick else FLEET)
        warm_up, measured = common.warm_up_and_measured(
            people, people.size * WARM_UP_PER_PHONE, 5_000 if quick else 30_000
        )
        warm_up_requests = _requests(settings.host, registration, warm_up)
        requests = _requests(settings.host, registration, measured)
        baseline = common.naive_baseline(measured, registration, 1000 if quick else 3000)
        asyncio.run(loadgen.run(settings.host, settings.ingest_port, warm_up_requests, concurrency=CONCURRENCY))
        with tqdm(total=len(requests), desc="OsmAnd requests", unit="request", file=sys.stderr) as bar:
            result = asyncio.run(
                loadgen.run(settings.host, settings.ingest_port, requests, concurrency=CONCURRENCY, progress=bar)
            )
    statuses = result["statuses"]
    # A phone's fix can be refused with a reason (400); anything else means the platform failed.
    if set(statuses) - {200, 400}:
        raise RuntimeError(f"ingest answered {statuses}")
    accepted = statuses.get(200, 0)
    value = accepted / result["elapsed_s"]
    print(
        f"{accepted:,} of {len(requests):,} fixes accepted in {result['elapsed_s']:.1f} s; "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms",
        file=sys.stderr,
    )
    common.report(
        "osmand",
        "single_fix_requests_per_s",
        value,
        "requests/s",
        "naive: one INSERT + one ST_Contains per fix, autocommit",
        baseline,
        ">= 3000 requests/s",
    )
    return 0
