"""The fleet's phones, run through time: what they measure, what they report and when it arrives.

Time moves in windows (15 minutes by default). In each window every phone's GPS and network (LBS)
samples are drawn at once with numpy, observed through the phone's noise model, and put in the
delivery queue; what has arrived by the end of the window is emitted, in arrival order. Only one
day's plan and the not-yet-delivered fixes are held, so a fleet of any size streams for any length.

What a phone gets wrong, as real ones do: reported accuracy that is sometimes over-confident, urban
multipath outliers hundreds of metres off, indoor gaps, switched-off periods, a skewed clock,
duplicates, single late fixes (out of order) and buffered bursts after a network loss."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from core import datum as datums
from simulators import demo as demo_fleet
from simulators import routine
from simulators.fleet import DATUMS, Fleet

LOCAL = ZoneInfo("Asia/Shanghai")
WINDOW_S = 900
SIGMA_PER_ACCURACY = 1 / 1.515  # Android's accuracy is the 68 % radius: 1.515 σ for a 2-D normal
INDOOR_GPS_LOSS = 0.6
INDOOR_ACCURACY_FACTOR = 2.5
OUTLIER_SHARE = (0.005, 0.015)  # outdoors, indoors
OUTLIER_M = (150, 600)
LATE_SHARE = 0.01  # fixes retried 30 s to 5 min later
DUPLICATE_SHARE = 0.003
SOURCE_NAMES = ("gps", "lbs")

FIX_DTYPE = np.dtype(
    [
        ("person", "<i4"),
        ("ts", "<f8"),  # the phone's clock, epoch seconds
        ("sent", "<f8"),  # when it reaches the platform, epoch seconds
        ("lat", "<f8"),  # as reported, in the phone's datum
        ("lon", "<f8"),
        ("accuracy_m", "<f4"),
        ("speed_mps", "<f4"),
        ("heading_deg", "<f4"),
        ("battery_pct", "<i2"),
        ("source", "u1"),  # index into SOURCE_NAMES
        ("datum", "u1"),  # index into fleet.DATUMS
        ("true_lat", "<f8"),  # WGS-84 ground truth, at the true time
        ("true_lon", "<f8"),
    ]
)
SIGHTING_DTYPE = np.dtype(
    [("person", "<i4"), ("camera", "<i4"), ("ts", "<f8"), ("confidence", "<f4"), ("checkin", "?")]
)
ROLLCALL_DTYPE = np.dtype([("person", "<i4"), ("issued", "<f8"), ("answered", "<f8")])
# Whole fixes as opaque bytes: numpy copies structured rows field by field (concatenate, boolean masks,
# fancy indexing: ten times slower), but plain bytes at memory speed. ``np.take`` already does.
_FIX_BYTES = np.dtype((np.void, FIX_DTYPE.itemsize))


@dataclass
class Chunk:
    """What arrived in one window, and the ground truth of any day planned in it."""

    until: float  # epoch seconds: everything sent before this has been emitted
    fixes: np.ndarray  # FIX_DTYPE, in arrival order
    sightings: np.ndarray  # SIGHTING_DTYPE
    rollcalls: np.ndarray  # ROLLCALL_DTYPE
    episodes: list[dict] = field(default_factory=list)  # ground truth; start/end epoch seconds
    # The day's plan the window was drawn from, and its local midnight (epoch seconds): where everyone
    # is at any moment of it, for whoever acts on the people's behalf (the roll-call answerer).
    plan: routine.DayPlan | None = None
    day_start: float = float("nan")


def local_midnight(moment: datetime) -> datetime:
    local = moment.astimezone(LOCAL)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def run(
    fleet: Fleet,
    *,
    start: datetime,
    duration_s: float | None,
    episode_rate: float = 1.0,
    window_s: float = WINDOW_S,
    demo: demo_fleet.Schedule | None = None,
) -> Iterator[Chunk]:
    """Stream the fleet from ``start`` for ``duration_s`` (None: forever). Scenario people act out
    their scenario on a share ``episode_rate`` of days; ``demo`` adds the demo's violations."""
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    if routine.DAY_S % window_s:
        raise ValueError(f"the window must divide a day evenly, got {window_s} s")
    origin = local_midnight(start)
    origin_s = origin.timestamp()
    begin = (start - origin).total_seconds()
    end = np.inf if duration_s is None else begin + duration_s
    phases = np.random.default_rng([fleet.seed, 1]).uniform(0, 1, (2, fleet.size))
    gps_phase, lbs_phase = phases[0] * fleet.gps_interval_s, phases[1] * fleet.lbs_interval_s
    pending = np.empty(0, FIX_DTYPE)
    plan, planned_day = None, -1
    t = begin - begin % window_s
    while t < end:
        day = int(t // routine.DAY_S)
        episodes = []
        if day != planned_day:
            plan, planned_day = _plan(fleet, origin, day, episode_rate, demo), day
            episodes = [_absolute(e, fleet, origin_s) for e in plan.episodes if e["end"] >= begin and e["start"] < end]
            base = origin_s + day * routine.DAY_S
            sightings = np.array(
                [
                    (p, camera, base + at, confidence, kind != "sighting")
                    for p, camera, at, confidence, kind in plan.sightings
                ],
                dtype=SIGHTING_DTYPE,
            )
            rollcalls = np.array([(p, base + i, base + r) for p, i, r in plan.rollcalls], dtype=ROLLCALL_DTYPE)
        a, b = max(t, begin), min(t + window_s, end)
        rng = np.random.default_rng([fleet.seed, 2, int(t)])
        fresh = _observe(fleet, plan, day, a, b, rng, gps_phase, lbs_phase, origin_s)
        # Most fixes arrive within their window; only the late and buffered ones wait in ``pending``.
        fixes = _join(pending, fresh)
        sent = fixes["sent"]
        arrived = sent < origin_s + b
        pending = np.take(fixes, np.flatnonzero(~arrived))
        order = np.flatnonzero(arrived)
        yield Chunk(
            until=origin_s + b,
            fixes=np.take(fixes, order[np.argsort(sent[order])]),
            sightings=_between(sightings, "ts", origin_s + a, origin_s + b),
            rollcalls=_between(rollcalls, "issued", origin_s + a, origin_s + b),
            episodes=episodes,
            plan=plan,
            day_start=origin_s + day * routine.DAY_S,
        )
        t += window_s
    if len(pending):  # buffered fixes still on phones when the run ends are delivered last
        yield Chunk(
            until=float(pending["sent"].max()) + 1,
            fixes=np.take(pending, np.argsort(pending["sent"])),
            sightings=np.empty(0, SIGHTING_DTYPE),
            rollcalls=np.empty(0, ROLLCALL_DTYPE),
        )


def _plan(
    fleet: Fleet, origin: datetime, day: int, episode_rate: float, demo: demo_fleet.Schedule | None
) -> routine.DayPlan:
    weekday = (origin.astimezone(LOCAL) + timedelta(days=day)).weekday()
    draw = np.random.default_rng([fleet.seed, 3, day]).uniform(0, 1, fleet.size) < episode_rate
    # Meeting partners share one draw: both go, or neither.
    first_of_pair = np.where(
        fleet.partner >= 0, np.minimum(np.arange(fleet.size), fleet.partner), np.arange(fleet.size)
    )
    today = (fleet.scenario >= 0) & draw[first_of_pair]
    violations: dict[int, list[tuple[str, float]]] = {}
    if demo is not None:
        midnight = origin.timestamp() + day * routine.DAY_S
        for v in demo.between(midnight, midnight + routine.DAY_S):
            violations.setdefault(v.person, []).append((v.kind, v.onset - midnight))
    return routine.plan_day(fleet, day, weekday, episodes_today=today, violations=violations)


def _absolute(episode: dict, fleet: Fleet, origin_s: float) -> dict:
    record = {
        "supervisee": fleet.codes[episode["person"]],
        "kind": episode["kind"],
        "start": origin_s + episode["start"],
        "end": origin_s + episode["end"],
        "expected_level": episode["level"],
    }
    if episode.get("demo"):
        record["demo"] = True
    if "partner" in episode:
        record["partner"] = fleet.codes[episode["partner"]]
    if "place" in episode:
        lon, lat = fleet.city.to_lonlat(*episode["place"])
        record["place"] = {"lat": float(lat), "lon": float(lon)}
    if "leave" in episode:
        route = np.array(episode["leave"]["route"])
        lon, lat = fleet.city.to_lonlat(route[:, 0], route[:, 1])
        record["leave"] = {
            "from": origin_s + episode["leave"]["from"],
            "to": origin_s + episode["leave"]["to"],
            "route": [[float(x), float(y)] for x, y in zip(lon, lat, strict=True)],
        }
    return record


def _samples(a: float, b: float, phase: np.ndarray, interval: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (person, time) with time = phase + k·interval in [a, b)."""
    first = np.ceil((a - phase) / interval)
    count = np.maximum(0, np.ceil((b - phase) / interval) - first).astype(np.int64)
    person = np.repeat(np.arange(len(phase)), count)
    k = np.arange(len(person)) - np.repeat(np.cumsum(count) - count, count)
    return person, phase[person] + (first[person] + k) * interval[person]


def _observe(
    fleet: Fleet,
    plan: routine.DayPlan,
    day: int,
    a: float,
    b: float,
    rng: np.random.Generator,
    gps_phase: np.ndarray,
    lbs_phase: np.ndarray,
    origin_s: float,
) -> np.ndarray:
    gps_person, gps_t = _samples(a, b, gps_phase, fleet.gps_interval_s)
    lbs_person, lbs_t = _samples(a, b, lbs_phase, fleet.lbs_interval_s)
    person = np.concatenate([gps_person, lbs_person])
    t = np.concatenate([gps_t, lbs_t])
    second = t - day * routine.DAY_S
    where = routine.locate(plan, person, second)
    keep = ~((second >= plan.off[person, 0]) & (second < plan.off[person, 1]))
    keep[: len(gps_t)] &= ~where.indoor[: len(gps_t)] | (rng.uniform(0, 1, len(gps_t)) >= INDOOR_GPS_LOSS)
    kept = np.flatnonzero(keep)
    # GPS samples come first and stay first: slices, not masks, tell the two sources apart.
    g = int(np.count_nonzero(keep[: len(gps_t)]))
    person, t, second = person[kept], t[kept], second[kept]
    truth = routine.positions(plan, person, second, routine.Located(*(column[kept] for column in where)))
    x, y = truth.xy.T
    indoor = truth.indoor[:g]
    m = len(person)

    accuracy = np.empty(m)
    accuracy[:g] = np.clip(
        fleet.accuracy_median_m[person[:g]] * rng.lognormal(0, 0.35, g) * np.where(indoor, INDOOR_ACCURACY_FACTOR, 1),
        3,
        150,
    )
    accuracy[g:] = rng.uniform(300, 1500, m - g)
    sigma = accuracy * SIGMA_PER_ACCURACY
    sigma[:g] *= fleet.overconfidence[person[:g]]
    noise = rng.normal(0, 1, (2, m)) * sigma
    observed_x, observed_y = x + noise[0], y + noise[1]
    outlier = np.flatnonzero(rng.uniform(0, 1, g) < np.where(indoor, OUTLIER_SHARE[1], OUTLIER_SHARE[0]))
    angle = rng.uniform(0, 2 * np.pi, len(outlier))
    jump = rng.uniform(*OUTLIER_M, len(outlier))
    observed_x[outlier] += np.cos(angle) * jump
    observed_y[outlier] += np.sin(angle) * jump

    fixes = np.empty(m, FIX_DTYPE)
    fixes["person"] = person
    epoch = origin_s + t
    fixes["ts"] = epoch + fleet.clock_skew_s[person]
    fixes["true_lon"], fixes["true_lat"] = fleet.city.to_lonlat(x, y)
    datum = fleet.datum[person]
    fixes["datum"] = datum
    fixes["lon"], fixes["lat"] = _to_datum(*fleet.city.to_lonlat(observed_x, observed_y), datum)
    fixes["accuracy_m"] = accuracy
    fixes["speed_mps"][:g] = np.maximum(0, truth.speed[:g] + rng.normal(0, 0.3, g))
    fixes["heading_deg"][:g] = truth.heading[:g]
    fixes["speed_mps"][g:] = fixes["heading_deg"][g:] = np.nan
    awake_h = np.clip((second - 7 * 3600) / 3600, 0, None)  # charged overnight
    fixes["battery_pct"] = np.clip(100 - fleet.battery_drain_pct_h[person] * awake_h, 5, 100).astype(np.int16)
    fixes["source"][:g] = 0
    fixes["source"][g:] = 1

    sent = epoch + rng.uniform(0.3, 3, m)
    offline = plan.offline[person]
    buffered = np.flatnonzero((second >= offline[:, 0]) & (second < offline[:, 1]))
    # A buffered burst goes out when the network is back, oldest first.
    sent[buffered] = (
        origin_s + day * routine.DAY_S + offline[buffered, 1] + 1 + (second[buffered] - offline[buffered, 0]) * 1e-3
    )
    late = np.flatnonzero(rng.uniform(0, 1, m) < LATE_SHARE)
    sent[late] += rng.uniform(30, 300, len(late))
    fixes["sent"] = sent
    duplicate = np.flatnonzero(rng.uniform(0, 1, m) < DUPLICATE_SHARE)
    copies = np.take(fixes, duplicate)
    copies["sent"] += rng.uniform(5, 60, len(copies))
    return _join(fixes, copies)


def _to_datum(lon: np.ndarray, lat: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 → what each phone reports (Chinese map SDKs say GCJ-02 or BD-09), in place."""
    chinese = np.flatnonzero(code != DATUMS.index("wgs84"))
    if len(chinese):
        lon[chinese], lat[chinese] = datums.wgs84_to_gcj02(lon[chinese], lat[chinese])
        baidu = chinese[code[chinese] == DATUMS.index("bd09")]
        lon[baidu], lat[baidu] = datums.gcj02_to_bd09(lon[baidu], lat[baidu])
    return lon, lat


def _join(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate([part.view(_FIX_BYTES) for part in parts]).view(FIX_DTYPE)


def _between(rows: np.ndarray, column: str, a: float, b: float) -> np.ndarray:
    return rows[(rows[column] >= a) & (rows[column] < b)]
