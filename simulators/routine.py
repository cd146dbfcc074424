"""Daily routines: where each supervisee is at every moment of a day, and the day's labelled episodes.

A day is planned person by person (a few dozen numbers each, cheap even for 100,000 people) as a
list of stops joined by legs along streets (an L-shaped path, or a straight one where the L would
leave the electronic wall). Routines never leave the wall, never enter a barred place and are home
during curfew; only the scenarios do that, and their ground truth is measured on the resulting path,
so a label always agrees with the geometry. Positions are then evaluated for any (person, time)
pairs at once with numpy. The planner's person is simulators.planner's; the scenarios are in
simulators.scenarios."""

import math
import random
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from simulators import demo, scenarios
from simulators.fleet import (
    CURFEW_RADIUS_M,
    PHONE_OFF_RED_S,
    PROFILE_SCENARIOS,
    RED_AFTER_S,
    RED_DISTANCE_M,
    ROUTINE_MARGIN_M,
    SCENARIO_LEVELS,
    Fleet,
)
from simulators.planner import DAY_S, HOME_BY_S, Person, as_point, distance, hours, routine_ok

WANDER_M = 12.0  # moving about inside a place
GROUND_TRUTH_STEP_S = 5.0
ROW_SPAN_S = 4 * DAY_S  # larger than any time of day a plan holds


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


def plan_day(
    fleet: Fleet,
    day: int,
    weekday: int,
    *,
    episodes_today: np.ndarray,
    violations: dict[int, list[tuple[str, float]]] | None = None,
) -> DayPlan:
    """Plan day ``day`` of the run (local calendar ``weekday``, Monday 0) for the whole fleet.
    ``episodes_today[p]`` says whether person ``p`` acts out their scenario today; ``violations[p]``
    lists the demo's violations (kind, onset second of the day) person ``p`` commits today."""
    violations = violations or {}
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
        person = Person(fleet, p, rng, home, tuple(centres[p]), radii[p], exclusion, exclusion_radii[p])
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
        windows = []
        for violation, onset in violations.get(p, ()):
            if found := demo.act_out(person, violation, onset, plan.sightings):
                plan.episodes.append({"person": p, "kind": violation, "level": "", "demo": True} | found)
                windows.append(found["window"])
        people.append(person.stops)
        _device_day(plan, p, rng, kind)
        for start, end in windows:  # the demo's phones stay on and online while it matters
            for gap in (plan.off, plan.offline):
                if gap[p, 0] < end + 600 and gap[p, 1] > start - 600:
                    gap[p] = np.nan
    # A meeting needs both: one partner may not make it (a late evening outing).
    met = {e["person"] for e in plan.episodes if e["kind"] == "meeting"}
    plan.episodes = [e for e in plan.episodes if e["kind"] != "meeting" or e["partner"] in met]
    _pack(plan, people)
    _ground_truth(plan, fleet, day)
    return plan


def _routine(person: Person, weekday: int, kind: str | None, plan: DayPlan) -> None:
    f, p, rng = person.fleet, person.index, person.rng
    # A day trip on travel leave is a day off work: after a workday the trip's return (16:00-17:30)
    # would come before its arrival.
    works = weekday < 5 and not math.isnan(f.work[p, 0]) and kind != "approved_leave"
    office = as_point(f.cameras[0])
    if kind == "drift_only":
        return  # a day at home, just inside the wall
    outings: list[tuple] = []  # (target, not_before, dwell, indoor, options)
    if works:
        outings.append((as_point(f.work[p]), hours(rng, 7.75, 0.5, 6.6, 9.5), None, True, {}))
    # The office is a routine stop: as far inside the wall as the others, or wandering about it leaves the wall.
    in_reach = distance(office, person.centre) <= person.radius - ROUTINE_MARGIN_M
    checkin_day = weekday == f.office_day[p] and in_reach and routine_ok(person, office)
    if checkin_day:
        outings.append((office, 10 * 3600, 1800, True, {"camera": 0, "checkin": True}))
    if works:
        outings.append((as_point(f.work[p]), 0, None, True, {}))
    errands = 1 + int(rng.random() < 0.4) if not works else int(rng.random() < 0.4)
    first_errand = 17.5 * 3600 if works else hours(rng, 10, 1, 8.5, 13)
    for _ in range(errands):
        place = rng.randrange(f.places.shape[1])
        outings.append(
            (
                as_point(f.places[p, place]),
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
                as_point(f.places[p, place]),
                hours(rng, 19, 0.4, 18, 20),
                rng.uniform(1800, 4800),
                True,
                {"camera": int(f.place_camera[p, place])},
            )
        )
    scenario = scenarios.outing(person, kind) if kind else None
    end_of_work = hours(rng, 17.5, 0.75, 16, 19.5)
    for target, not_before, dwell, indoor, options in outings:
        if scenario and scenario[1] <= max(person.free_at, not_before):
            scenarios.act_out(person, scenario, plan.episodes)
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
        scenarios.act_out(person, scenario, plan.episodes)
    if not person.at_home and person.free_at < HOME_BY_S:
        person.go(person.home, not_before=0, dwell=0, indoor=True)


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
        if episode.get("demo"):
            measured += _demo_truths(plan, fleet, day, episode)
            continue
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


def _demo_truths(plan: DayPlan, fleet: Fleet, day: int, episode: dict) -> list[dict]:
    """Every rule a demo violation's path breaks, each run of it a labelled episode: out of the wall
    (outside the curfew, which binds above the wall while in force), away from home in the curfew,
    inside the barred place. Out of the wall is red beyond the platform's default distance or time."""
    p = episode["person"]
    start, end = episode["window"]
    t = np.arange(max(0.0, start - 60), min(DAY_S, end + 60), GROUND_TRUTH_STEP_S)
    xy = positions(plan, np.full(len(t), p), t).xy
    curfew = demo.in_curfew(t)
    beyond = np.hypot(*(xy - fleet.zone_centre[p]).T) - fleet.zone_radius[p]
    broken = {
        "exit": (beyond > 0) & ~curfew,
        "curfew_breach": (np.hypot(*(xy - fleet.home[p]).T) > CURFEW_RADIUS_M) & curfew,
        "exclusion_entry": np.hypot(*(xy - fleet.exclusion_centre[p]).T) < fleet.exclusion_radius[p],
    }
    found = []
    for rule, mask in broken.items():
        hits = np.flatnonzero(mask)
        for run in np.split(hits, np.flatnonzero(np.diff(hits) > 1) + 1) if len(hits) else []:
            a, b = float(t[run[0]]), float(t[run[-1]])
            kind, level = rule, SCENARIO_LEVELS.get(rule)
            if rule == "exit":
                red = b - a >= RED_AFTER_S or float(beyond[run].max()) >= RED_DISTANCE_M
                kind, level = ("exit_long", "red") if red else ("exit_short", "yellow")
            found.append(
                {
                    "person": p,
                    "kind": kind,
                    "level": level,
                    "demo": True,
                    "start": day * DAY_S + a,
                    "end": day * DAY_S + b,
                }
            )
    return found
