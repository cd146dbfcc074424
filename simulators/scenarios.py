"""The labelled violations a supervisee acts out on their scenario's days, one function per kind.

``outing`` says when the day's scenario starts; ``act_out`` bends the person's planned day to it and
returns the episode's planned window and details, or None when the day leaves no room for it (the
routine goes on unchanged). The ground truth is measured on the resulting path afterwards."""

import math
import random
from collections.abc import Callable
from functools import partial

from simulators.fleet import CURFEW, CURFEW_RADIUS_M, SCENARIO_LEVELS
from simulators.planner import BIKE, CAR, DAY_S, Person, as_point, distance, hours, routine_ok


def outing(person: Person, kind: str) -> tuple | None:
    """(kind, start not before, details) for the day's scenario; device-only scenarios are set elsewhere."""
    f, p, rng = person.fleet, person.index, person.rng
    if kind in ("exit_short", "exit_long"):
        return kind, hours(rng, 13, 2, 10, 16), {}
    if kind == "exclusion_entry":
        return kind, hours(rng, 14, 1.5, 10.5, 16.5), {}
    if kind == "curfew_breach":
        return kind, rng.uniform(22.3, 22.7) * 3600, {}
    if kind == "approved_leave":
        return kind, rng.uniform(8, 9) * 3600, {}
    if kind == "place_visit":
        return kind, hours(rng, 14, 1, 12.5, 16), {}
    if kind == "meeting":
        a, b = sorted((p, int(f.partner[p])))
        shared = random.Random(f.seed * 7_777 + a * 131 + b)  # both partners draw the same meeting
        start = shared.uniform(18.5, 19.25) * 3600
        middle = (f.home[a] + f.home[b]) / 2
        point = (float(middle[0]) + shared.uniform(-80, 80), float(middle[1]) + shared.uniform(-80, 80))
        return kind, start - 1800, {"start": start, "point": point, "dwell": shared.uniform(2400, 4200)}
    return None  # phone_off, rollcall_*: the device's day (simulators.routine)


def _exit(person: Person, not_before: float, details: dict, *, short: bool) -> dict | None:
    """Out of the wall and straight home: a short excursion by bike, or a long one by car."""
    rng, home = person.rng, person.home
    (cx, cy), radius = person.centre, person.radius
    beyond = rng.uniform(300, 800) if short else rng.uniform(2000, 6000)
    here = person.here
    for _ in range(10):  # a bearing whose straight legs out and home pass clear of the barred place
        angle = math.atan2(here[1] - cy, here[0] - cx) + rng.uniform(-0.6, 0.6)
        target = (cx + math.cos(angle) * (radius + beyond), cy + math.sin(angle) * (radius + beyond))
        if person.clear_of_exclusion(here, target) and person.clear_of_exclusion(target, home):
            break
    else:
        return None
    dwell = rng.uniform(120, 480) if short else rng.uniform(2700, 9000)
    speed = BIKE if short else CAR
    # Straight out and straight home, so the time and distance outside are the scenario's.
    if not person.go(
        target, not_before=not_before, dwell=dwell, indoor=False, speed=speed, may_leave=True, direct=True
    ):
        return None
    start = person.stops[-2][3]
    person.go(home, not_before=0, dwell=0, indoor=True, speed=speed, may_leave=True, direct=True)
    return {"window": (start, person.stops[-1][2]), "zone": "inclusion"}


def _exclusion_entry(person: Person, not_before: float, details: dict) -> dict | None:
    """Into the barred place, a while, and home."""
    rng = person.rng
    quarter = person.exclusion_radius / 4
    target = (
        person.exclusion[0] + rng.uniform(-quarter, quarter),
        person.exclusion[1] + rng.uniform(-quarter, quarter),
    )
    if not person.go(target, not_before=not_before, dwell=rng.uniform(600, 1800), indoor=False, may_enter=True):
        return None
    start = person.stops[-2][3]
    person.go(person.home, not_before=0, dwell=0, indoor=True, may_enter=True)
    return {"window": (start, person.stops[-1][2]), "zone": "exclusion"}


def _curfew_breach(person: Person, not_before: float, details: dict) -> dict | None:
    """Out to a place far from home during the curfew, back before midnight."""
    f, p, rng, home = person.fleet, person.index, person.rng, person.home
    place = as_point(f.places[p, rng.randrange(f.places.shape[1])])
    if distance(place, home) < 3 * CURFEW_RADIUS_M or not routine_ok(person, place):
        return None
    if not person.at_home:
        person.go(home, not_before=0, dwell=0, indoor=True)
    outing_starts = len(person.stops)
    if not person.go(place, not_before=not_before, dwell=rng.uniform(1800, 3000), indoor=True):
        return None
    person.go(home, not_before=0, dwell=0, indoor=True)
    if person.free_at >= DAY_S - 60:  # not back by midnight: called off (the next day starts at home)
        del person.stops[outing_starts:]
        return None
    return {"window": (CURFEW[0], DAY_S), "zone": "curfew"}


def _approved_leave(person: Person, not_before: float, details: dict) -> dict | None:
    """A day trip far beyond the wall on travel leave (请假外出), out and back at 15 m/s."""
    rng, home = person.rng, person.home
    (cx, cy), radius = person.centre, person.radius
    for _ in range(10):
        angle = rng.uniform(0, 2 * math.pi)
        away = radius + rng.uniform(15_000, 40_000)
        target = (cx + math.cos(angle) * away, cy + math.sin(angle) * away)
        if person.clear_of_exclusion(person.here, target):
            break
    else:
        return None
    leave_from = max(person.free_at, not_before)
    person.stops[-1][3] = leave_from
    here = person.here
    arrive = leave_from + distance(here, target) / 15.0
    mid = ((here[0] + target[0]) / 2, (here[1] + target[1]) / 2)
    person.stops.append([target[0], target[1], arrive, rng.uniform(16, 17.5) * 3600, True, *mid])
    back = person.stops[-1][3] + distance(home, target) / 15.0
    mid = ((home[0] + target[0]) / 2, (home[1] + target[1]) / 2)
    person.stops.append([home[0], home[1], back, back, True, *mid])
    return {
        "window": (leave_from, back),
        "leave": {"from": leave_from - 1800, "to": back + 3600, "route": [list(here), list(target)]},
    }


def _place_visit(person: Person, not_before: float, details: dict) -> dict | None:
    """A visit to a place near one of the person's usual ones, inside the wall."""
    f, p, rng = person.fleet, person.index, person.rng
    base = f.places[p, 0]
    point = (float(base[0]) + rng.uniform(-400, 400), float(base[1]) + rng.uniform(-400, 400))
    if not person.inside_wall(point) or not routine_ok(person, point) or not person.fits(point, not_before, 1800):
        return None
    if not person.go(point, not_before=not_before, dwell=rng.uniform(1200, 2400), indoor=False):
        return None
    return {"window": (person.stops[-1][2], person.stops[-1][3]), "place": list(point)}


def _meeting(person: Person, not_before: float, details: dict) -> dict | None:
    """Meeting the partner (a no-contact pair) at the agreed place and time."""
    point = details["point"]
    if not person.go(point, not_before=details["start"] - 3600, dwell=0, indoor=False):
        return None
    # Both arrive by the agreed time and leave together.
    person.stops[-1][3] = details["start"] + details["dwell"]
    if person.stops[-1][2] > details["start"]:
        return None
    return {
        "window": (details["start"], details["start"] + details["dwell"]),
        "partner": int(person.fleet.partner[person.index]),
        "place": list(point),
    }


ACTS: dict[str, Callable[[Person, float, dict], dict | None]] = {
    "exit_short": partial(_exit, short=True),
    "exit_long": partial(_exit, short=False),
    "exclusion_entry": _exclusion_entry,
    "curfew_breach": _curfew_breach,
    "approved_leave": _approved_leave,
    "place_visit": _place_visit,
    "meeting": _meeting,
}


def act_out(person: Person, scenario: tuple, episodes: list[dict]) -> None:
    """Bend the person's day to the scenario that ``outing`` set; what happened joins ``episodes``."""
    kind, not_before, details = scenario
    found = ACTS[kind](person, not_before, details)
    if found is not None:
        episodes.append({"person": person.index, "kind": kind, "level": SCENARIO_LEVELS[kind]} | found)
