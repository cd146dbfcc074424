"""The day planner's working state for one person, and the streets it moves them along: stops joined
by L-shaped legs (or straight ones), at walking, cycling, bus or car speed. Shared by the routines
(simulators.routine) and the scenarios that break them (simulators.scenarios)."""

import math
import random
from dataclasses import dataclass, field

import numpy as np

from simulators.fleet import Fleet

DAY_S = 86_400
HOME_BY_S = 21.5 * 3600  # routines end at home before the curfew

WALK, BIKE, BUS, CAR = 1.3, 4.0, 7.0, 11.0

Point = tuple[float, float]


def distance(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def as_point(values: np.ndarray) -> Point:
    return float(values[0]), float(values[1])


@dataclass
class Person:
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
        return distance(self.here, self.home) < 1

    @property
    def free_at(self) -> float:
        return self.stops[-1][3]

    def inside_wall(self, point: Point) -> bool:
        return distance(point, self.centre) <= self.radius

    def clear_of_exclusion(self, a: Point, b: Point) -> bool:
        if self.exclusion is None:
            return True
        return segment_distance(self.exclusion, a, b) > self.exclusion_radius + 50

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
        length = distance(self.here, via) + distance(via, target)
        speed = speed or mode_speed(length, bool(self.fleet.has_car[self.index]))
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


def segment_distance(point: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    denominator = dx * dx + dy * dy
    t = 0.0 if denominator == 0 else min(1.0, max(0.0, ((point[0] - a[0]) * dx + (point[1] - a[1]) * dy) / denominator))
    return math.hypot(point[0] - (a[0] + t * dx), point[1] - (a[1] + t * dy))


def mode_speed(length_m: float, has_car: bool) -> float:
    if length_m < 1000:
        return WALK
    if length_m < 3500:
        return BIKE
    return CAR if has_car else BUS


def hours(rng: random.Random, mean_h: float, sd_h: float, low_h: float, high_h: float) -> float:
    return min(high_h, max(low_h, rng.gauss(mean_h, sd_h))) * 3600


def routine_ok(person: Person, point: Point) -> bool:
    """Far enough from the barred place for a routine visit."""
    return person.exclusion is None or distance(point, person.exclusion) > person.exclusion_radius + 400
