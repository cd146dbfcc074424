"""Alert latency: from posting the fix that makes an alert due to seeing the alert in the officer
portal's queue (``GET /api/v1/alerts?supervisee_id=…``), p99, under a background load of 10,000
fixes/s (a simulated Benxi fleet posted in native batches through its gateway, requests built
before the clock starts, held while the probes run); the same probes without the load, in the same
run, are the baseline.

A probe is a supervisee with a 1 km electronic wall whose phone reports from 2 km beyond it
(accuracy 10 m, so surely outside). The geofence engine confirms an exit only after
``exit_confirm_fixes`` outside fixes spanning ``exit_confirm_s`` of fix time, so the earlier ones
are sent back-dated first, and the measured one, timestamped now, completes the evidence. An
engine that alerts on the first outside fix is recognised during the warm-up; its latency is then
measured from the back-dated post, the one that made its alert due.

Visibility is taken when the poll that shows the alert returns: one poll every 20 ms for all probes
in flight, so the figure is an upper bound, by at most one poll interval and one poll's round trip.
Last stdout line: one JSON object."""

import asyncio
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import numpy as np
import orjson
from tqdm import tqdm

from bench import common, loadgen
from simulators import platform

LOAD_FIXES_PER_S = 10_000
LOAD_BATCH = 1000
LOAD_CONNECTIONS = 8
LOAD_FLEET = 500
LOAD_LEAD_S = 5.0  # the load runs this long before the first probe and after the last one starts
PROBES, PROBE_SPAN_S = 200, 60.0
QUICK_PROBES, QUICK_SPAN_S = 40, 12.0
BEYOND_WALL_M = 2000.0
PROBE_ACCURACY_M = 10.0
POLL_S = 0.02
SETTLE_S = 0.5  # after the back-dated fixes: the engine has counted them before the measured one
TIMEOUT_S = 30.0  # a probe whose alert takes longer counts as this long
WARM_UP_PROBES = 3
WARM_UP_TIMEOUT_S = 120.0  # consumers join their groups and load the zones after a fresh start


def confirmation() -> tuple[int, float]:
    """The engine's exit confirmation: outside fixes needed, and the fix time they must span."""
    from geofence.config import get_geofence_settings

    settings = get_geofence_settings()
    # Read by name with the engine's defaults: an engine without dwell settings alerts at once,
    # which the warm-up recognises whatever these say.
    return int(getattr(settings, "exit_confirm_fixes", 3)), float(getattr(settings, "exit_confirm_s", 60.0))


class Watcher:
    """One poll of the queue every POLL_S for every probe in flight (``since=`` the oldest one's
    first post), not one per probe: when alerts come late, probes pile up, and a poll each would
    swamp the portal and measure the polling."""

    def __init__(self, portal: platform.Portal):
        self.portal = portal
        self.waiting: dict[int, tuple[float, asyncio.Future]] = {}  # zone id → (watched since, epoch s; seen)
        self.written: dict[int, float] = {}  # zone id → when its alert was written (created_at, epoch s)
        self.failures = 0
        self._task = asyncio.create_task(self._run())

    def watch(self, zone_id: int) -> asyncio.Future:
        """A future that gets the perf_counter time the probe's alert is first seen."""
        seen = asyncio.get_running_loop().create_future()
        self.waiting[zone_id] = (time.time(), seen)
        return seen

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            for zone_id in [z for z, (_, seen) in self.waiting.items() if seen.done()]:
                del self.waiting[zone_id]
            if not self.waiting:
                continue
            # ``since`` takes alerts opened or changed since then (a probe's starts at its back-dated
            # first fix); a second of slack for the clocks of this process and of the database.
            since = datetime.fromtimestamp(min(t for t, _ in self.waiting.values()) - 1, UTC)
            try:
                alerts = await self.portal.call("GET", "/alerts", params={"since": since.isoformat(), "limit": 2000})
            except platform.PlatformError as exc:  # a slow portal is part of the latency, not the end of the run
                self.failures += 1
                if self.failures == 1:
                    print(f"polling the alert queue failed ({exc}); still polling", file=sys.stderr)
                continue
            now = time.perf_counter()
            for alert in alerts:
                entry = self.waiting.get(alert["zone_id"])
                if entry is not None and not entry[1].done():
                    entry[1].set_result(now)
                    self.written[alert["zone_id"]] = datetime.fromisoformat(alert["created_at"]).timestamp()

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class Prober:
    ingest: httpx.AsyncClient
    watcher: Watcher
    earlier_fixes: int  # back-dated outside fixes before the measured one
    spacing_s: float  # fix time between consecutive outside fixes
    first_fix_alerts: bool = False  # the engine alerts on the back-dated fixes already
    early: list[int] = field(default_factory=list)  # probes alerted before their measured fix
    # Seconds from the measured post until the alert row was written, per probe seen: the pipeline's
    # share of the latency; the rest is the queue's poll showing it.
    written_s: list[float] = field(default_factory=list)

    async def post(self, person: dict, timestamps: list[float]) -> None:
        lat, lon = person["outside"]
        fixes = [{"ts": ts, "lat": lat, "lon": lon, "accuracy_m": PROBE_ACCURACY_M} for ts in timestamps]
        answer = await self.ingest.post(
            "/api/v1/fixes",
            content=orjson.dumps({"fixes": fixes}),
            headers={"Authorization": f"Bearer {person['token']}"},
        )
        if answer.status_code != 202 or answer.json()["accepted"] != len(fixes):
            raise RuntimeError(f"probe fixes refused: {answer.status_code} {answer.text[:300]}")

    @staticmethod
    async def seen_after(seen: asyncio.Future, since: float, timeout_s: float) -> float | None:
        """Seconds from ``since`` (perf_counter) until the alert is in the queue; None: not within the timeout."""
        try:
            return (
                await asyncio.wait_for(asyncio.shield(seen), max(0.0, since + timeout_s - time.perf_counter())) - since
            )
        except TimeoutError:
            seen.cancel()  # the watcher stops looking for it
            return None

    async def probe(self, person: dict, timeout_s: float = TIMEOUT_S) -> float | None:
        """Seconds from the post that makes the alert due until it is visible; None: not within the timeout."""
        # Alerts are about the probe's wall: not any alert of the person (a signal-lost one may come first).
        seen = self.watcher.watch(person["zone_id"])
        now = time.time()
        earlier = [now - k * self.spacing_s for k in range(self.earlier_fixes, 0, -1)]
        if earlier:
            posted = time.perf_counter()
            await self.post(person, earlier)
            if self.first_fix_alerts:
                return await self.seen_after(seen, posted, timeout_s)
            await asyncio.sleep(SETTLE_S)
            if seen.done():
                self.early.append(person["supervisee_id"])
                return None
        posted, posted_epoch = time.perf_counter(), time.time()
        await self.post(person, [posted_epoch])
        seconds = await self.seen_after(seen, posted, timeout_s)
        if seconds is not None:
            self.written_s.append(self.watcher.written[person["zone_id"]] - posted_epoch)
        return seconds

    async def warm_up(self, first: dict, second: dict, mode: dict) -> None:
        """Wait until the pipeline answers at all, time one alert on the running pipeline (every
        outside fix in one post), then find out whether the engine alerts on the back-dated fixes
        alone, and check that it does alert once the measured fix completes the evidence."""
        for person, timeout_s in ((first, WARM_UP_TIMEOUT_S), (second, TIMEOUT_S)):
            seen = self.watcher.watch(person["zone_id"])
            now = time.time()
            posted = time.perf_counter()
            await self.post(person, [now - k * self.spacing_s for k in range(self.earlier_fixes, -1, -1)])
            seconds = await self.seen_after(seen, posted, timeout_s)
            if seconds is None:
                raise RuntimeError(
                    f"no alert {timeout_s:.0f} s after a probe's exit: is the pipeline running, and does "
                    "GET /api/v1/alerts?since= still return alerts changed since then?"
                )
        print(f"pipeline live; one alert took {seconds * 1000:.0f} ms", file=sys.stderr)
        if not self.earlier_fixes:
            return
        seen = self.watcher.watch(mode["zone_id"])
        now = time.time()
        posted = time.perf_counter()
        await self.post(mode, [now - k * self.spacing_s for k in range(self.earlier_fixes, 0, -1)])
        self.first_fix_alerts = await self.seen_after(seen, posted, max(3.0, 5 * seconds)) is not None
        if self.first_fix_alerts:
            print("the engine alerts on the first outside fix: measured from that post", file=sys.stderr)
            return
        seen = self.watcher.watch(mode["zone_id"])  # the first wait gave up on the last one
        posted = time.perf_counter()
        await self.post(mode, [time.time()])
        if await self.seen_after(seen, posted, TIMEOUT_S) is None:
            raise RuntimeError(
                f"no alert after {self.earlier_fixes + 1} outside fixes {self.spacing_s:.0f} s apart: does the "
                "engine ask for more (EWALL_GEOFENCE_EXIT_CONFIRM_FIXES, EWALL_GEOFENCE_EXIT_CONFIRM_S)?"
            )
        print(
            f"the engine confirms an exit after {self.earlier_fixes + 1} outside fixes: "
            "measured from the last one's post",
            file=sys.stderr,
        )


async def _phase(prober: Prober, people: list[dict], span_s: float, label: str) -> np.ndarray:
    """One probe every span/len(people) seconds, each on its own supervisee; latencies in ms."""
    began = time.perf_counter()
    prober.written_s = []
    bar = tqdm(total=len(people), desc=f"probes ({label})", unit="probe", file=sys.stderr)

    async def one(person: dict) -> float | None:
        try:
            return await prober.probe(person)
        finally:
            bar.update()

    tasks = []
    for k, person in enumerate(people):
        await asyncio.sleep(max(0.0, began + k * span_s / len(people) - time.perf_counter()))
        tasks.append(asyncio.create_task(one(person)))
    seconds = await asyncio.gather(*tasks)
    bar.close()
    missed = sum(s is None for s in seconds)
    latencies = np.array([TIMEOUT_S if s is None else s for s in seconds]) * 1000
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    print(
        f"{label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, max {latencies.max():.0f} ms over "
        f"{len(people)} probes"
        + (f"; {missed} not alerted within {TIMEOUT_S:.0f} s (counted as that)" if missed else ""),
        file=sys.stderr,
    )
    if prober.written_s:
        w50, w95, w99 = np.percentile(np.array(prober.written_s) * 1000, [50, 95, 99])
        print(f"{label}: posted → alert written p50 {w50:.0f} ms, p95 {w95:.0f} ms, p99 {w99:.0f} ms", file=sys.stderr)
    return latencies


async def _measure(settings, probes: list[dict], load: list[bytes], span_s: float) -> tuple[np.ndarray, np.ndarray]:
    earlier, confirm_s = confirmation()
    earlier -= 1
    # Back-dated fixes spaced so that, with the measured one, they span more than the engine asks.
    spacing_s = confirm_s / earlier + 10 if earlier else 0.0
    ingest = httpx.AsyncClient(base_url=f"http://{settings.host}:{settings.ingest_port}", timeout=30.0)
    portal_url = f"http://{settings.host}:{settings.portal_port}"
    async with ingest, platform.Portal(portal_url, "admin", common.ADMIN_PASSWORD) as portal:
        watcher = Watcher(portal)
        prober = Prober(ingest, watcher, earlier, spacing_s)
        await prober.warm_up(*probes[:WARM_UP_PROBES])
        probes = probes[WARM_UP_PROBES:]
        half = len(probes) // 2
        idle = await _phase(prober, probes[:half], span_s, "idle")
        load_task = asyncio.create_task(
            loadgen.run(
                settings.host,
                settings.ingest_port,
                load,
                concurrency=LOAD_CONNECTIONS,
                rate=LOAD_FIXES_PER_S / LOAD_BATCH,
                keep_bodies=True,
            )
        )
        await asyncio.sleep(LOAD_LEAD_S)
        loaded = await _phase(prober, probes[half:], span_s, f"under {LOAD_FIXES_PER_S:,} fixes/s")
        if not load_task.done():
            print("load still running after the last probe: waiting for it to finish", file=sys.stderr)
        result = await load_task
        await watcher.close()
    accepted = sum(orjson.loads(body)["accepted"] for _, status, body in result["answers"] if status in (202, 422))
    print(
        f"background load: {accepted:,} fixes accepted in {result['elapsed_s']:.1f} s "
        f"({accepted / result['elapsed_s']:,.0f} fixes/s, statuses {result['statuses']}, "
        f"p99 {result['p99_ms']:.0f} ms per batch)",
        file=sys.stderr,
    )
    if prober.early:
        print(f"{len(prober.early)} probes alerted before their measured fix (counted as missed)", file=sys.stderr)
    return idle, loaded


def main(quick: bool = False) -> int:
    count, span_s = (QUICK_PROBES, QUICK_SPAN_S) if quick else (PROBES, PROBE_SPAN_S)
    with common.own_platform() as settings:
        people, registration = common.simulated_fleet(settings, 100 if quick else LOAD_FLEET)
        fixes = common.simulated_fixes(
            people, int(LOAD_FIXES_PER_S * (span_s + 2 * LOAD_LEAD_S)), end=datetime.now(UTC)
        )
        load = common.gateway_requests(settings.host, registration, fixes, LOAD_BATCH)
        probes = common.probes(people, 2 * count + WARM_UP_PROBES, beyond_wall_m=BEYOND_WALL_M)
        idle, loaded = asyncio.run(_measure(settings, probes, load, span_s))
    common.report(
        "alert-latency",
        "alert_visible_p99_ms",
        float(np.percentile(loaded, 99)),
        "ms",
        "same probes with no background load, same run (ratio = p99 loaded / p99 idle)",
        float(np.percentile(idle, 99)),
        f"p99 < 1000 ms under {LOAD_FIXES_PER_S:,} fixes/s",
    )
    return 0
