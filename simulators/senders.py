"""Sending a simulated fleet to a running platform: over the native batch API (through a gateway
token), OsmAnd / Traccar Client or OwnTracks (one request per fix, as phones do), and CCTV
sightings; paced in real time, accelerated, or as fast as the platform takes it; and a load mode
that holds a target rate and reports what the platform achieved."""

import asyncio
import base64
import itertools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import numpy as np
import orjson
from tqdm import tqdm

from simulators.fleet import DATUMS, Fleet
from simulators.platform import Registration
from simulators.stream import FIX_DTYPE, SOURCE_NAMES, Chunk

PROTOCOLS = ("native", "osmand", "owntracks")
MAX_BATCH = 10_000
KNOTS_PER_MPS = 1 / 0.514444
CONCURRENCY = 64


@dataclass
class Tally:
    accepted: int = 0
    rejected: int = 0  # refused by validation (the platform says why)
    failed: int = 0  # not answered, or answered 5xx
    reasons: dict[str, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)

    def refuse(self, reason: str, count: int = 1) -> None:
        self.rejected += count
        self.reasons[reason[:120]] = self.reasons.get(reason[:120], 0) + count

    def percentiles_ms(self) -> dict[str, float]:
        if not self.latencies_s:
            return {}
        values = np.array(self.latencies_s) * 1000
        return {f"p{q}_ms": round(float(np.percentile(values, q)), 1) for q in (50, 95, 99)}


def native_records(registration: Registration, fixes: np.ndarray) -> list[dict]:
    """Fixes as records of the native batch API, each naming its device (as a gateway posts them)."""
    keys = registration.device_keys
    records = []
    for person, ts, _, lat, lon, accuracy, speed, heading, battery, source, datum, *_ in fixes.tolist():
        record = {
            "device_id": keys[person],
            "ts": round(ts, 3),
            "lat": lat,
            "lon": lon,
            "accuracy_m": accuracy,
            "battery_pct": battery,
            "source": SOURCE_NAMES[source],
            "datum": DATUMS[datum],
        }
        if speed == speed:  # not NaN
            record["speed_mps"] = speed
        if heading == heading:
            record["heading_deg"] = heading
        records.append(record)
    return records


def osmand_params(registration: Registration, row: tuple) -> dict:
    """One fix (a FIX_DTYPE row as a tuple) as the query parameters OsmAnd / Traccar Client sends."""
    person, ts, _, lat, lon, accuracy, speed, heading, battery, _, datum, *_ = row
    params = {
        "id": registration.device_keys[person],
        "timestamp": int(ts),
        "lat": f"{lat:.7f}",
        "lon": f"{lon:.7f}",
        "accuracy": f"{accuracy:.1f}",
        "batt": battery,
        "datum": DATUMS[datum],
    }
    if speed == speed:
        params["speed"] = f"{speed * KNOTS_PER_MPS:.2f}"  # Traccar Client sends knots
    if heading == heading:
        params["bearing"] = f"{heading:.1f}"
    return params


class Sender:
    """Posts fixes and sightings of one fleet to an ingest app, counting what was accepted."""

    def __init__(self, fleet: Fleet, registration: Registration, ingest_url: str, protocol: str = "native"):
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        self.fleet, self.registration, self.protocol = fleet, registration, protocol
        self.client = httpx.AsyncClient(
            base_url=ingest_url,
            timeout=30.0,
            limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
        )
        self.tally = Tally()
        self._limit = asyncio.Semaphore(CONCURRENCY)
        self._auth = [
            "Basic " + base64.b64encode(f"{key}:{token}".encode()).decode()
            for key, token in zip(registration.device_keys, registration.device_tokens, strict=True)
        ]

    async def close(self) -> None:
        await self.client.aclose()

    async def fixes(self, fixes: np.ndarray) -> None:
        if not len(fixes):
            return
        if self.protocol == "native":
            await asyncio.gather(*(self._batch(fixes[i : i + MAX_BATCH]) for i in range(0, len(fixes), MAX_BATCH)))
        else:
            send = self._osmand if self.protocol == "osmand" else self._owntracks
            await asyncio.gather(*(send(row) for row in fixes.tolist()))

    async def _batch(self, fixes: np.ndarray) -> None:
        body = orjson.dumps({"fixes": native_records(self.registration, fixes)})
        answer = await self._post(
            "/api/v1/fixes",
            len(fixes),
            content=body,
            headers={"Authorization": f"Bearer {self.registration.gateway_token}", "Content-Type": "application/json"},
        )
        if answer is None:
            return
        if answer.status_code in (202, 422) and "accepted" in (result := answer.json()):
            self.tally.accepted += result["accepted"]
            for rejected in result["rejected"]:
                self.tally.refuse(rejected["error"])
        else:
            self.tally.refuse(f"{answer.status_code}: {answer.text}", len(fixes))

    async def _osmand(self, row: tuple) -> None:
        await self._one(self._post("/", 1, params=osmand_params(self.registration, row), method="GET"))

    async def _owntracks(self, row: tuple) -> None:
        person, ts, _, lat, lon, accuracy, speed, heading, battery, *_ = row
        message = {
            "_type": "location",
            "lat": lat,
            "lon": lon,
            "tst": int(ts),
            "acc": round(accuracy),
            "batt": battery,
            "tid": "sm",
        }
        if speed == speed:
            message["vel"] = round(speed * 3.6)  # km/h
        if heading == heading:
            message["cog"] = round(heading)
        await self._one(
            self._post(
                "/owntracks",
                1,
                content=orjson.dumps(message),
                headers={"Authorization": self._auth[person], "Content-Type": "application/json"},
            )
        )

    async def _one(self, request) -> None:
        answer = await request
        if answer is None:
            return
        if answer.status_code == 200:
            self.tally.accepted += 1
        else:
            self.tally.refuse(f"{answer.status_code}: {answer.text}")

    async def _post(self, path: str, count: int, *, method: str = "POST", **kwargs) -> httpx.Response | None:
        async with self._limit:
            started = time.perf_counter()
            try:
                answer = await self.client.request(method, path, **kwargs)
            except httpx.HTTPError:
                self.tally.failed += count
                return None
            self.tally.latencies_s.append(time.perf_counter() - started)
        if answer.status_code >= 500:
            self.tally.failed += count
            return None
        return answer

    async def sightings(self, sightings: np.ndarray) -> None:
        """CCTV sightings and office check-ins (报到), posted with each camera's token."""
        for camera in np.unique(sightings["camera"]):
            rows = sightings[sightings["camera"] == camera]
            payload = {
                "sightings": [
                    {
                        "person_code": self.fleet.codes[person],
                        "ts": datetime.fromtimestamp(ts, UTC).isoformat(),
                        "confidence": round(confidence, 3),
                        "kind": "report" if checkin else "sighting",
                    }
                    for person, _, ts, confidence, checkin in rows.tolist()
                ]
            }
            answer = await self._post(
                "/api/v1/sightings",
                len(rows),
                json=payload,
                headers={"Authorization": f"Bearer {self.registration.camera_tokens[int(camera)]}"},
            )
            if answer is not None and answer.status_code not in (202, 200):
                self.tally.refuse(f"sightings {answer.status_code}: {answer.text}", len(rows))


async def replay(
    chunks: Iterator[Chunk], sender: Sender, *, speed: float, on_episodes=None, progress: bool = True
) -> Tally:
    """Send every chunk's fixes and sightings when their arrival time comes: ``speed`` times real time
    (``math.inf``: as fast as the platform answers). ``on_episodes`` gets each day's ground truth first."""
    bar = tqdm(desc=f"fixes sent ({sender.protocol})", unit="fix", disable=not progress)
    sim_origin = wall_origin = None
    for chunk in chunks:
        if chunk.episodes and on_episodes is not None:
            await on_episodes(chunk.episodes)
        fixes = chunk.fixes
        if not len(fixes):
            continue
        if sim_origin is None:
            sim_origin, wall_origin = float(fixes["sent"][0]), time.monotonic()
        # One slice per second of wall time.
        step = 1.0 if math.isinf(speed) else max(1.0, speed)
        slot = ((fixes["sent"] - sim_origin) // step).astype(np.int64)
        bounds = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1], True])
        for begin, end in itertools.pairwise(bounds):
            if not math.isinf(speed):
                due = wall_origin + (float(fixes["sent"][begin]) - sim_origin) / speed
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            await sender.fixes(fixes[begin:end])
            bar.update(end - begin)
            bar.set_postfix(accepted=sender.tally.accepted, refused=sender.tally.rejected, failed=sender.tally.failed)
        sightings = chunk.sightings
        if len(sightings):
            await sender.sightings(sightings)
    bar.close()
    return sender.tally


async def load(
    chunks: Iterator[Chunk], sender: Sender, *, rate: float, duration_s: float, batch: int = 1000, progress: bool = True
) -> dict:
    """Hold ``rate`` fixes/s in native batches for ``duration_s``; report achieved throughput and the
    request latency percentiles."""
    if sender.protocol != "native":
        raise ValueError("load mode posts native batches; use --protocol native")
    total = int(rate * duration_s)
    bar = tqdm(total=total, desc=f"load at {rate:,.0f} fixes/s", unit="fix", disable=not progress)
    pending: set[asyncio.Task] = set()
    buffer = np.empty(0, FIX_DTYPE)
    sent = 0
    began = time.monotonic()
    for chunk in chunks:
        buffer = np.concatenate([buffer, chunk.fixes])
        while len(buffer) >= batch and sent < total:
            part, buffer = buffer[:batch], buffer[batch:]
            due = began + sent / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            while len(pending) >= CONCURRENCY:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(sender.fixes(part))
            pending.add(task)
            task.add_done_callback(lambda _t, n=len(part): bar.update(n))
            sent += len(part)
        if sent >= total:
            break
    if pending:
        await asyncio.wait(pending)
    elapsed = time.monotonic() - began
    bar.close()
    tally = sender.tally
    return {
        "target_fixes_per_s": rate,
        "achieved_fixes_per_s": round(tally.accepted / elapsed, 1),
        "accepted": tally.accepted,
        "refused": tally.rejected,
        "failed": tally.failed,
        "elapsed_s": round(elapsed, 2),
        **tally.percentiles_ms(),
    }
