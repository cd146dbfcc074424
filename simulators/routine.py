"""Daily routines: where each supervisee is at every moment of a day, and the day's labelled episodes.

A day is planned person by person (a few dozen numbers each, cheap even for 100,000 people) as a
list of stops joined by legs along streets (an L-shaped path, or a straight one where the L would
leave the electronic wall). Routines never leave the wall, never enter a barred place and are home
during curfew; only the scenarios do that, and their ground truth is measured on the resulting path,
so a label always agrees with the geometry. Positions are then evaluated for any (person, time)
pairs at once with numpy."""

import math
import random
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from simulators.fleet import (
    CURFEW,
    CURFEW_RADIUS_M,
    PHONE_OFF_RED_S,
    PROFILE_SCENARIOS,
    ROUTINE_MARGIN_M,
    SCENARIO_LEVELS,
    Fleet,
)

DAY_S = 86_400
HOME_BY_S = 21.5 * 3600  # routines end at home before the curfew
WANDER_M = 12.0  # moving about inside a place
GROUND_TRUTH_STEP_S = 5.0
ROW_SPAN_S = 4 * DAY_S  # larger than any time of day a plan holds

WALK, BIKE, BUS, CAR = 1.3, 4.0, 7.0, 11.0


@dataclass
class DayPlan:
    """Every person's stops for one day, padded to the same count ``stops`` and laid out person by person
    (stop k of person p is row p·stops + k) in contiguous arrays; times are seconds of the day."""

    stops: int
    xy: np.ndarray  # (2, rows) stop positions, x then y
    via: np.ndarray  # (2, rows) the corner of the leg arriving at each stop
    arrive: np.ndarray  # (rows,), +inf for padding
    depart: np.ndarray  # (rows,)
    indoor: np.ndarray  # (rows,) bool
    arrive_key: np.ndarray  # arrive plus each person's row offset, so one searchsorted finds every stop
    off: np.ndarray  # (n, 2) phone switched off [from, to), NaN: not today
    offline: np.ndarray  # (n, 2) no network (fixes buffered) [from, to), NaN: not today
    episodes: list[dict] = field(default_factory=list)  # ground truth, seconds of the day
    sightings: list[tuple] = field(default_factory=list)  # (person, camera, second of day, confidence, kind)
    rollcalls: list[tuple] = field(default_factory=list)  # (person, issued, answered or NaN)


Point = tuple[float, float]


def _distance(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _point(values: np.ndarray) -> Point:
    return float(values[0]), float(values[1])


@dataclass
class _Person:
    """The planner's working state for one person and day (plain floats: numpy's per-call costs
    would dominate at this size)."""

    fleet: Fleet
    index: int
    rng: random.Random
    home: Point
    centre: Point
    radius: float
    exclusion: Point | None
    exclusion_radius: float
    stops: list = field(default_factory=list)  # [x, y, arrive, depart, indoor, via_x, via_y]

    @property
    def here(self) -> Point:
        return self.stops[-1][0], self.stops[-1][1]

    @property
    def at_home(self) -> bool:
        return _distance(self.here, self.home) < 1

    @property
    def free_at(self) -> float:
        return self.stops[-1][3]

    def inside_wall(self, point: Point) -> bool:
        return _distance(point, self.centre) <= self.radius

    def clear_of_exclusion(self, a: Point, b: Point) -> bool:
        if self.exclusion is None:
            return True
        return _segment_distance(self.exclusion, a, b) > self.exclusion_radius + 50

    def via_for(self, target: Point, *, may_leave: bool, may_enter: bool, direct: bool = False) -> Point | None:
        """A street corner for the leg here → target that keeps the routine's promises; None if none does.
        ``direct`` tries the straight leg first: an exit's corner could lie kilometres outside the wall."""
        a = self.here
        corners = [(target[0], a[1]), (a[0], target[1])]
        self.rng.shuffle(corners)
        straight = ((a[0] + target[0]) / 2, (a[1] + target[1]) / 2)
        # Otherwise the straight leg last: inside a convex wall if both ends are.
        for via in [straight, *corners] if direct else [*corners, straight]:
            if not may_leave and not self.inside_wall(via):
                continue
            if not may_enter and not (self.clear_of_exclusion(a, via) and self.clear_of_exclusion(via, target)):
                continue
            return via
        return None

    def go(
        self,
        target: Point,
        *,
        not_before: float,
        dwell: float,
        indoor: bool,
        speed: float | None = None,
        may_leave: bool = False,
        may_enter: bool = False,
        direct: bool = False,
    ) -> bool:
        """Travel to ``target`` (leaving no earlier than ``not_before``) and stay ``dwell`` seconds."""
        via = self.via_for(target, may_leave=may_leave, may_enter=may_enter, direct=direct)
        if via is None:
            return False
        length = _distance(self.here, via) + _distance(via, target)
        speed = speed or _mode_speed(length, bool(self.fleet.has_car[self.index]))
        leave = max(self.free_at, not_before)
        self.stops[-1][3] = leave
        arrive = leave + length / speed
        self.stops.append([target[0], target[1], arrive, arrive + dwell, indoor, via[0], via[1]])
        return True

    def fits(self, target: Point, not_before: float, dwell: float) -> bool:
        """Whether an outing to ``target`` still gets the person home before the curfew."""
        here, home = self.here, self.home
        trip = abs(target[0] - here[0]) + abs(target[1] - here[1]) + abs(home[0] - target[0]) + abs(home[1] - target[1])
        return max(self.free_at, not_before) + dwell + trip / WALK < HOME_BY_S


def _segment_distance(point: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    denominator = dx * dx + dy * dy
    t = 0.0 if denominator == 0 else min(1.0, max(0.0, ((point[0] - a[0]) * dx + (point[1] - a[1]) * dy) / denominator))
    return math.hypot(point[0] - (a[0] + t * dx), point[1] - (a[1] + t * dy))


def _mode_speed(length_m: float, has_car: bool) -> float:
    if length_m < 1000:
        return WALK
    if length_m < 3500:
        return BIKE
    return CAR if has_car else BUS


def _hours(rng: random.Random, mean_h: float, sd_h: float, low_h: float, high_h: float) -> float:
    return min(high_h, max(low_h, rng.gauss(mean_h, sd_h))) * 3600


def plan_day(fleet: Fleet, day: int, weekday: int, *, episodes_today: np.ndarray) -> DayPlan:
    """Plan day ``day`` of the run (local calendar ``weekday``, Monday 0) for the whole fleet.
    ``episodes_today[p]`` says whether person ``p`` acts out their scenario today."""
    n = fleet.size
    people = []
    off = np.full((n, 2), np.nan)
    offline = np.full((n, 2), np.nan)
    plan = DayPlan(
        stops=0,
        xy=np.empty(0),
        via=np.empty(0),
        arrive=np.empty(0),
        depart=np.empty(0),
        indoor=np.empty(0),
        arrive_key=np.empty(0),
        off=off,
        offline=offline,
    )
    homes, centres, radii = fleet.home.tolist(), fleet.zone_centre.tolist(), fleet.zone_radius.tolist()
    exclusions, exclusion_radii = fleet.exclusion_centre.tolist(), fleet.exclusion_radius.tolist()
    for p in range(n):
        rng = random.Random(fleet.seed * 1_000_003 + day * 7_919 + p)
        home = tuple(homes[p])
        exclusion = None if math.isnan(exclusions[p][0]) else tuple(exclusions[p])
        person = _Person(fleet, p, rng, home, tuple(centres[p]), radii[p], exclusion, exclusion_radii[p])
        person.stops.append([home[0], home[1], 0.0, 0.0, True, home[0], home[1]])  # free from midnight
        kind = fleet.scenario_name(p)
        if kind in PROFILE_SCENARIOS:  # who they are, every day
            plan.episodes.append({"person": p, "kind": kind, "level": SCENARIO_LEVELS[kind], "window": (0, DAY_S)})
        elif not episodes_today[p]:
            kind = None
        _routine(person, weekday, kind, plan)
        if person.free_at < DAY_S:  # home for the night
            if not person.at_home:
                person.go(home, not_before=0, dwell=0, indoor=True, may_leave=True, may_enter=True)
            person.stops[-1][3] = DAY_S
        people.append(person.stops)
        _device_day(plan, p, rng, kind)
    # A meeting needs both: one partner may not make it (a late evening outing).
    met = {e["person"] for e in plan.episodes if e["kind"] == "meeting"}
    plan.episodes = [e for e in plan.episodes if e["kind"] != "meeting" or e["partner"] in met]
    _pack(plan, people)
    _ground_truth(plan, fleet, day)
    return plan


def _routine(person: _Person, weekday: int, kind: str | None, plan: DayPlan) -> None:
    f, p, rng = person.fleet, person.index, person.rng
    # A day trip on travel leave is a day off work: after a workday the trip's return (16:00-17:30)
    # would come before its arrival.
    works = weekday < 5 and not math.isnan(f.work[p, 0]) and kind != "approved_leave"
    office = _point(f.cameras[0])
    if kind == "drift_only":
        return  # a day at home, just inside the wall
    outings: list[tuple] = []  # (target, not_before, dwell, indoor, options)
    if works:
        outings.append((_point(f.work[p]), _hours(rng, 7.75, 0.5, 6.6, 9.5), None, True, {}))
    # The office is a routine stop: as far inside the wall as the others, or wandering about it leaves the wall.
    in_reach = _distance(office, person.centre) <= person.radius - ROUTINE_MARGIN_M
    checkin_day = weekday == f.office_day[p] and in_reach and _routine_ok(person, office)
    if checkin_day:
        outings.append((office, 10 * 3600, 1800, True, {"camera": 0, "checkin": True}))
    if works:
        outings.append((_point(f.work[p]), 0, None, True, {}))
    errands = 1 + int(rng.random() < 0.4) if not works else int(rng.random() < 0.4)
    first_errand = 17.5 * 3600 if works else _hours(rng, 10, 1, 8.5, 13)
    for _ in range(errands):
        place = rng.randrange(f.places.shape[1])
        outings.append(
            (
                _point(f.places[p, place]),
                first_errand,
                rng.uniform(1200, 5400),
                rng.random() < 0.5,
                {"camera": int(f.place_camera[p, place])},
            )
        )
    if rng.random() < 0.3:
        place = rng.randrange(f.places.shape[1])
        outings.append(
            (
                _point(f.places[p, place]),
                _hours(rng, 19, 0.4, 18, 20),
                rng.uniform(1800, 4800),
                True,
                {"camera": int(f.place_camera[p, place])},
            )
        )
    scenario = _scenario_outing(person, kind, plan) if kind else None
    end_of_work = _hours(rng, 17.5, 0.75, 16, 19.5)
    for target, not_before, dwell, indoor, options in outings:
        if scenario and scenario[1] <= max(person.free_at, not_before):
            _do_scenario(person, scenario, plan)
            scenario = None
        if dwell is None:  # the workday, until the end of work (or the check-in's lunch break)
            until = 12 * 3600 if checkin_day and not_before else end_of_work
            dwell = max(600.0, until - max(person.free_at, not_before))
        if not person.fits(target, not_before, dwell):
            continue
        if person.go(target, not_before=not_before, dwell=dwell, indoor=indoor):
            camera = options.get("camera", -1)
            if camera >= 0:
                at = person.stops[-1][2] + rng.uniform(0, min(120, dwell))
                confidence = min(0.99, max(0.3, rng.betavariate(8, 1.5)))
                plan.sightings.append((p, camera, at, confidence, "报到" if options.get("checkin") else "sighting"))
    if scenario:
        _do_scenario(person, scenario, plan)
    if not person.at_home and person.free_at < HOME_BY_S:
        person.go(person.home, not_before=0, dwell=0, indoor=True)


def _routine_ok(person: _Person, point: Point) -> bool:
    """Far enough from the barred place for a routine visit."""
    return person.exclusion is None or _distance(point, person.exclusion) > person.exclusion_radius + 400


def _scenario_outing(person: _Person, kind: str, plan: DayPlan) -> tuple | None:
    """(kind, start not before, details) for the day's scenario; device-only scenarios are set here."""
    f, p, rng = person.fleet, person.index, person.rng
    if kind in ("exit_short", "exit_long"):
        return kind, _hours(rng, 13, 2, 10, 16), {}
    if kind == "exclusion_entry":
        return kind, _hours(rng, 14, 1.5, 10.5, 16.5), {}
    if kind == "curfew_breach":
        return kind, rng.uniform(22.3, 22.7) * 3600, {}
    if kind == "approved_leave":
        return kind, rng.uniform(8, 9) * 3600, {}
    if kind == "place_visit":
        return kind, _hours(rng, 14, 1, 12.5, 16), {}
    if kind == "meeting":
        a, b = sorted((p, int(f.partner[p])))
        shared = random.Random(f.seed * 7_777 + a * 131 + b)  # both partners draw the same meeting
        start = shared.uniform(18.5, 19.25) * 3600
        middle = (f.home[a] + f.home[b]) / 2
        point = (float(middle[0]) + shared.uniform(-80, 80), float(middle[1]) + shared.uniform(-80, 80))
        return kind, start - 1800, {"start": start, "point": point, "dwell": shared.uniform(2400, 4200)}
    return None  # phone_off, rollcall_*: the device's day, below


def _do_scenario(person: _Person, scenario: tuple, plan: DayPlan) -> None:
    kind, not_before, details = scenario
    f, p, rng = person.fleet, person.index, person.rng
    (cx, cy), radius, home = person.centre, person.radius, person.home
    episode = {"person": p, "kind": kind, "level": SCENARIO_LEVELS[kind]}
    if kind in ("exit_short", "exit_long"):
        short = kind == "exit_short"
        beyond = rng.uniform(300, 800) if short else rng.uniform(2000, 6000)
        here = person.here
        for _ in range(10):  # a bearing whose straight legs out and home pass clear of the barred place
            angle = math.atan2(here[1] - cy, here[0] - cx) + rng.uniform(-0.6, 0.6)
            target = (cx + math.cos(angle) * (radius + beyond), cy + math.sin(angle) * (radius + beyond))
            if person.clear_of_exclusion(here, target) and person.clear_of_exclusion(target, home):
                break
        else:
            return
        dwell = rng.uniform(120, 480) if short else rng.uniform(2700, 9000)
        speed = BIKE if short else CAR
        # Straight out and straight home, so the time and distance outside are the scenario's.
        if not person.go(
            target, not_before=not_before, dwell=dwell, indoor=False, speed=speed, may_leave=True, direct=True
        ):
            return
        start = person.stops[-2][3]
        person.go(home, not_before=0, dwell=0, indoor=True, speed=speed, may_leave=True, direct=True)
        episode.update(window=(start, person.stops[-1][2]), zone="inclusion")
    elif kind == "exclusion_entry":
        quarter = person.exclusion_radius / 4
        target = (
            person.exclusion[0] + rng.uniform(-quarter, quarter),
            person.exclusion[1] + rng.uniform(-quarter, quarter),
        )
        if not person.go(target, not_before=not_before, dwell=rng.uniform(600, 1800), indoor=False, may_enter=True):
            return
        start = person.stops[-2][3]
        person.go(home, not_before=0, dwell=0, indoor=True, may_enter=True)
        episode.update(window=(start, person.stops[-1][2]), zone="exclusion")
    elif kind == "curfew_breach":
        place = _point(f.places[p, rng.randrange(f.places.shape[1])])
        if _distance(place, home) < 3 * CURFEW_RADIUS_M or not _routine_ok(person, place):
            return
        if not person.at_home:
            person.go(home, not_before=0, dwell=0, indoor=True)
        outing = len(person.stops)
        if not person.go(place, not_before=not_before, dwell=rng.uniform(1800, 3000), indoor=True):
            return
        person.go(home, not_before=0, dwell=0, indoor=True)
        if person.free_at >= DAY_S - 60:  # not back by midnight: called off (the next day starts at home)
            del person.stops[outing:]
            return
        episode.update(window=(CURFEW[0], DAY_S), zone="curfew")
    elif kind == "approved_leave":
        for _ in range(10):
            angle = rng.uniform(0, 2 * math.pi)
            away = radius + rng.uniform(15_000, 40_000)
            target = (cx + math.cos(angle) * away, cy + math.sin(angle) * away)
            if person.clear_of_exclusion(person.here, target):
                break
        else:
            return
        leave_from = max(person.free_at, not_before)
        person.stops[-1][3] = leave_from
        here = person.here
        arrive = leave_from + _distance(here, target) / 15.0
        mid = ((here[0] + target[0]) / 2, (here[1] + target[1]) / 2)
        person.stops.append([target[0], target[1], arrive, rng.uniform(16, 17.5) * 3600, True, *mid])
        back = person.stops[-1][3] + _distance(home, target) / 15.0
        mid = ((home[0] + target[0]) / 2, (home[1] + target[1]) / 2)
        person.stops.append([home[0], home[1], back, back, True, *mid])
        episode.update(
            window=(leave_from, back),
            leave={"from": leave_from - 1800, "to": back + 3600, "route": [list(here), list(target)]},
        )
    elif kind == "place_visit":
        base = f.places[p, 0]
        point = (float(base[0]) + rng.uniform(-400, 400), float(base[1]) + rng.uniform(-400, 400))
        if not person.inside_wall(point) or not _routine_ok(person, point) or not person.fits(point, not_before, 1800):
            return
        if not person.go(point, not_before=not_before, dwell=rng.uniform(1200, 2400), indoor=False):
            return
        episode.update(window=(person.stops[-1][2], person.stops[-1][3]), place=list(point))
    elif kind == "meeting":
        point = details["point"]
        if not person.go(point, not_before=details["start"] - 3600, dwell=0, indoor=False):
            return
        # Both arrive by the agreed time and leave together.
        person.stops[-1][3] = details["start"] + details["dwell"]
        if person.stops[-1][2] > details["start"]:
            return
        episode.update(
            window=(details["start"], details["start"] + details["dwell"]), partner=int(f.partner[p]), place=list(point)
        )
    plan.episodes.append(episode)


def _device_day(plan: DayPlan, p: int, rng: random.Random, kind: str | None) -> None:
    """The phone's day: switched off, without network (fixes buffered), the roll call's answer."""
    if kind == "phone_off":
        start = rng.uniform(8, 12) * 3600
        end = min(start + rng.uniform(2, 10) * 3600, 21.5 * 3600)
        plan.off[p] = start, end
        level = "red" if end - start > PHONE_OFF_RED_S else "yellow"
        plan.episodes.append({"person": p, "kind": kind, "level": level, "window": (start, end)})
    elif rng.random() < 0.1:  # a short, unremarkable gap (battery swap, lift, basement)
        start = rng.uniform(7, 20) * 3600
        plan.off[p] = start, start + rng.uniform(600, 1500)
    if rng.random() < 0.05:
        start = rng.uniform(7, 20) * 3600
        plan.offline[p] = start, start + rng.uniform(600, 2700)
    issued = rng.uniform(9, 17) * 3600
    if kind == "rollcall_missed":
        answered = np.nan
    elif kind == "rollcall_late":
        answered = issued + rng.uniform(900, 2700)
    else:
        answered = issued + rng.uniform(30, 240)
    if answered >= plan.off[p, 0] and issued < plan.off[p, 1]:  # False for NaN: no answer, or never off
        # A switched-off phone answers once it is back on (a float: it goes into the JSON files).
        answered = float(plan.off[p, 1]) + rng.uniform(30, 120)
    plan.rollcalls.append((p, issued, answered))
    if kind in ("rollcall_late", "rollcall_missed"):
        end = issued + 2700 if np.isnan(answered) else answered
        plan.episodes.append({"person": p, "kind": kind, "level": SCENARIO_LEVELS[kind], "window": (issued, end)})


def _pack(plan: DayPlan, people: list[list]) -> None:
    s = max(len(stops) for stops in people)
    table = np.full((len(people), s, 7), np.nan)
    for p, stops in enumerate(people):
        table[p, : len(stops)] = stops
        table[p, len(stops) :] = stops[-1]
        table[p, len(stops) :, 2:4] = np.inf
    rows = table.reshape(-1, 7).T
    plan.stops = s
    plan.xy = rows[0:2].copy()
    plan.arrive = rows[2].copy()
    plan.depart = rows[3].copy()
    plan.indoor = rows[4] == 1
    plan.via = rows[5:7].copy()
    row_offset = np.repeat(np.arange(len(people)) * ROW_SPAN_S, s)
    plan.arrive_key = np.minimum(plan.arrive, 2 * DAY_S) + row_offset


@dataclass
class Positions:
    xy: np.ndarray  # (m, 2) true positions
    speed: np.ndarray  # (m,) m/s
    heading: np.ndarray  # (m,) degrees clockwise from north, NaN when still
    indoor: np.ndarray  # (m,) bool


class Located(NamedTuple):
    stop: np.ndarray  # (m,) row of the plan: the stop each pair is at, or the last one it left
    travelling: np.ndarray  # (m,) bool: on the leg to the next stop
    indoor: np.ndarray  # (m,) bool


def locate(plan: DayPlan, person: np.ndarray, t: np.ndarray) -> Located:
    """Where in their day ``person[i]`` is at second-of-day ``t[i]``: cheaper than ``positions``, so the
    stream can drop samples a phone loses indoors before working out where they are."""
    s = plan.stops
    first = person * s
    stop = np.searchsorted(plan.arrive_key, t + person * ROW_SPAN_S, side="right") - 1
    stop = np.clip(stop, first, first + s - 1)
    following = np.minimum(stop + 1, first + s - 1)
    travelling = (t > plan.depart[stop]) & np.isfinite(plan.arrive[following])
    return Located(stop, travelling, ~travelling & plan.indoor[stop])


def positions(plan: DayPlan, person: np.ndarray, t: np.ndarray, located: Located | None = None) -> Positions:
    """True positions of ``person[i]`` at second-of-day ``t[i]``, vectorised over all pairs; ``located``
    is ``locate``'s answer for the same pairs, if already known."""
    stop, travelling, indoor = located if located is not None else locate(plan, person, t)
    phase = person * 2.399963  # golden angle: each person wanders differently
    xy = np.empty((2, len(t)))
    np.add(plan.xy[0, stop], WANDER_M * np.sin(t / 700 + phase), out=xy[0])
    np.add(plan.xy[1, stop], WANDER_M * np.cos(t / 900 + 1.7 * phase), out=xy[1])
    speed = np.zeros(len(t))
    heading = np.full(len(t), np.nan)
    # Most of a day is spent at stops: the legs are worked out only for the pairs on one.
    moving = np.flatnonzero(travelling)
    if len(moving):
        xy[:, moving], speed[moving], heading[moving] = _on_leg(plan, person[moving], t[moving], stop[moving])
    return Positions(xy.T, speed, heading, indoor)


def _on_leg(plan: DayPlan, person: np.ndarray, t: np.ndarray, stop: np.ndarray) -> tuple:
    """(xy (2, m), speed, heading) along the L-shaped legs from ``stop`` to the next stop."""
    following = np.minimum(stop + 1, person * plan.stops + plan.stops - 1)
    depart = plan.depart[stop]
    duration = plan.arrive[following] - depart
    fraction = np.clip((t - depart) / np.maximum(duration, 1e-9), 0, 1)
    a, via, b = plan.xy[:, stop], plan.via[:, following], plan.xy[:, following]
    first = np.hypot(*(via - a))
    second = np.hypot(*(b - via))
    along = fraction * (first + second)
    on_first = along < first
    start = np.where(on_first, a, via)
    direction = np.where(on_first, via, b) - start
    part = np.where(on_first, along / np.maximum(first, 1e-9), (along - first) / np.maximum(second, 1e-9))
    xy = start + direction * np.clip(part, 0, 1)
    heading = np.degrees(np.arctan2(direction[0], direction[1])) % 360
    return xy, (first + second) / duration, heading


def _ground_truth(plan: DayPlan, fleet: Fleet, day: int) -> None:
    """Replace each scenario's planned window by what the path really does, measured every few seconds:
    when the person is outside the wall, inside the barred place, away from home in curfew."""
    measured = []
    for episode in plan.episodes:
        kind, p = episode["kind"], episode["person"]
        start, end = episode["window"]
        if kind in ("exit_short", "exit_long", "exclusion_entry", "curfew_breach"):
            t = np.arange(start - 60, end + 60, GROUND_TRUTH_STEP_S)
            xy = positions(plan, np.full(len(t), p), t).xy
            if kind == "exclusion_entry":
                violating = np.hypot(*(xy - fleet.exclusion_centre[p]).T) < fleet.exclusion_radius[p]
            elif kind == "curfew_breach":
                violating = np.hypot(*(xy - fleet.home[p]).T) > CURFEW_RADIUS_M
            else:
                violating = np.hypot(*(xy - fleet.zone_centre[p]).T) > fleet.zone_radius[p]
            if not violating.any():
                continue
            hits = np.flatnonzero(violating)
            start, end = float(t[hits[0]]), float(t[hits[-1]])
        times = {"start": day * DAY_S + start, "end": day * DAY_S + end}
        if "leave" in episode:
            leave = episode["leave"]
            times["leave"] = leave | {"from": day * DAY_S + leave["from"], "to": day * DAY_S + leave["to"]}
        measured.append(episode | times)
    plan.episodes = measured
