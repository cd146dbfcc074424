"""A small demo fleet: people who move about their home area and post their phones' fixes to the
native batch API; a few wander outside their electronic wall for a while and come back.

(The full simulator — routines, LBS noise, dropouts, labelled ground truth — builds on this.)"""

import asyncio
import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from tqdm import tqdm

METRES_PER_DEGREE = 111_195.0


@dataclass
class Walker:
    external_id: str
    token: str
    home_lat: float
    home_lon: float
    radius_m: float
    wanders: bool
    rng: random.Random
    east_m: float = 0.0
    north_m: float = 0.0
    heading: float = field(default=0.0)

    def step(self, elapsed_s: float, dt_s: float) -> tuple[float, float, float]:
        """Move and return (lat, lon, reported accuracy in metres)."""
        # Wanderers head out past their wall between minutes 2 and 6 of every 12, then come home.
        phase = (elapsed_s / 60) % 12
        away = self.wanders and 2 <= phase < 6
        target = 1.6 * self.radius_m if away else 0.4 * self.radius_m
        distance = math.hypot(self.east_m, self.north_m)
        if distance > 1:
            outward = math.atan2(self.north_m, self.east_m)
            self.heading = outward if distance < target else outward + math.pi
        self.heading += self.rng.gauss(0, 0.6)
        speed = 8.0 if away else 1.3
        self.east_m += math.cos(self.heading) * speed * dt_s
        self.north_m += math.sin(self.heading) * speed * dt_s
        accuracy = self.rng.choice([5, 8, 10, 15, 25])
        noise_e, noise_n = self.rng.gauss(0, accuracy / 2), self.rng.gauss(0, accuracy / 2)
        lat = self.home_lat + (self.north_m + noise_n) / METRES_PER_DEGREE
        lon = self.home_lon + (self.east_m + noise_e) / (METRES_PER_DEGREE * math.cos(math.radians(self.home_lat)))
        return lat, lon, float(accuracy)


def walkers_from(fleet: list[dict], *, wander_share: float = 0.1, seed: int = 11) -> list[Walker]:
    rng = random.Random(seed)
    return [
        Walker(
            p["external_id"],
            p["token"],
            p["home"][0],
            p["home"][1],
            p["radius_m"],
            wanders=rng.random() < wander_share,
            rng=random.Random(rng.random()),
        )
        for p in fleet
    ]


async def _post(client: httpx.AsyncClient, walker: Walker, elapsed_s: float, interval_s: float, now: str) -> bool:
    lat, lon, accuracy = walker.step(elapsed_s, interval_s)
    fix = {"ts": now, "lat": lat, "lon": lon, "accuracy_m": accuracy, "source": "gps"}
    try:
        response = await client.post(
            "/api/v1/fixes", json={"fixes": [fix]}, headers={"Authorization": f"Bearer {walker.token}"}
        )
        return response.status_code == 202
    except httpx.HTTPError:
        return False


async def run(
    ingest_url: str, walkers: list[Walker], *, interval_s: float, duration_s: float | None, progress: bool = True
) -> dict:
    """Post one fix per walker every interval until the duration is over (None: forever)."""
    started = time.monotonic()
    sent = failed = 0
    bar = tqdm(desc="fixes posted", unit="fix", disable=not progress)
    async with httpx.AsyncClient(base_url=ingest_url, timeout=10.0) as client:
        while duration_s is None or time.monotonic() - started < duration_s:
            tick = time.monotonic()
            elapsed = tick - started
            now = datetime.now(UTC).isoformat()

            results = await asyncio.gather(*(_post(client, w, elapsed, interval_s, now) for w in walkers))
            sent += sum(results)
            failed += len(results) - sum(results)
            bar.update(sum(results))
            bar.set_postfix(failed=failed)
            await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - tick)))
    bar.close()
    return {"sent": sent, "failed": failed}
