"""Single-fix OsmAnd / Traccar Client requests per second (one GET per fix, keep-alive, as phones
send them), every request queued on the broker before its answer; the naive design (one INSERT +
one ST_Contains per fix, autocommit) measured in the same run as the baseline."""

import asyncio
import sys
import time
from urllib.parse import urlencode

from bench import common, loadgen

CONCURRENCY = 256  # phones connect by the thousand; each waits for its own acknowledgement


def main(quick: bool = False) -> int:
    settings = common.prepare()
    from ops import stack

    people = common.fleet(50)
    total = 5_000 if quick else 30_000
    start = int(time.time()) - 3 * 3600
    requests = [
        loadgen.build_request(
            "GET",
            "/?"
            + urlencode(
                {
                    "id": people[i % len(people)]["key"],
                    "timestamp": start + i // len(people),
                    "lat": people[i % len(people)]["lat"],
                    "lon": people[i % len(people)]["lon"],
                    "speed": "3.0",
                    "bearing": "90",
                    "accuracy": "12",
                    "batt": "80",
                }
            ),
            settings.host,
        )
        for i in range(total)
    ]
    stack.stop(settings, common.INSTANCE)
    stack.start(settings, common.INSTANCE)
    try:
        baseline = common.naive_baseline(people, 1000 if quick else 3000)
        asyncio.run(loadgen.run(settings.host, settings.ingest_port, requests[:200], concurrency=8))  # warm caches
        result = asyncio.run(loadgen.run(settings.host, settings.ingest_port, requests[200:], concurrency=CONCURRENCY))
    finally:
        stack.stop(settings, common.INSTANCE)
    if set(result["statuses"]) != {200}:
        raise RuntimeError(f"ingest answered {result['statuses']}")
    value = (total - 200) / result["elapsed_s"]
    print(f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms", file=sys.stderr)
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
