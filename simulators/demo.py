"""The demo fleet's labelled violations (``./ewall up``): a newcomer signing in as any demo officer sees
a yellow and a red alert of their own caseload arrive within the first minutes, and then a few an hour.

``Schedule`` says who breaks which rule when (a pure function of the fleet, the officers' caseloads and
the start); ``act_out`` bends that person's planned day to it: they leave wherever they are so as to be
on the wrong side at the planned onset, stay a while, go home, and take up their routine again. The
violations that start the demo are already under way when the stream starts, so their first fixes are
evidence. Labels are measured on the resulting path (simulators.routine), as the scenarios' are.

The demo picks people who act out no scenario of their own and whose phones report GPS every 30 or
60 s with honest accuracy and a true clock, so that the platform confirms within a minute or two."""

import math
import random
from dataclasses import dataclass

import numpy as np

from simulators.fleet import CURFEW, CURFEW_RADIUS_M, Fleet
from simulators.planner import BIKE, CAR, DAY_S, Person, distance, mode_speed

YELLOW, RED = "yellow", "red"
OPENING_KINDS = 2  # a yellow and a red at the start, for every officer
# Then one every REPEAT_S per officer, yellow and red in turn, from when the platform has learnt how
# much each phone scatters: it learns from the first pairs of fixes, which must not all be a trip.
FIRST_REPEAT_S = 15 * 60
REPEAT_S = 20 * 60
OFFICER_STAGGER_S = 4 * 60  # officers' later violations do not all come in the same minute
ON_WRONG_SIDE_BEFORE_S = 90  # the person crosses this long before the onset: the onset's fixes are evidence
FAST_GPS_S = 30  # phones reporting at least this often are picked first
SHORT_EXIT_M = (300.0, 800.0)  # beyond the wall: yellow (the platform's red distance is 2,000 m)
FAR_EXIT_M = (2600.0, 5000.0)  # red by distance, clear of the threshold plus any accuracy
CURFEW_OUTING_M = (400.0, 1000.0)
DWELL_S = {
    "exit_short": (240, 480),
    "exit_long": (480, 900),
    "exclusion_entry": (480, 900),
    "curfew_breach": (600, 1200),
}
SPEED = {"exit_short": BIKE, "exit_long": CAR, "curfew_breach": BIKE}  # else as far as the way is


@dataclass(frozen=True)
class Violation:
    person: int  # index into the fleet
    officer: int  # index into the caseloads
    level: str  # what the platform should raise (the labels are measured on the path)
    kind: str  # exit_short, exit_long, exclusion_entry or curfew_breach
    onset: float  # epoch seconds: on the wrong side by then


def in_curfew(second_of_day):
    """Whether local seconds of the day (a number or an array) fall in the curfew (22:00-06:00)."""
    second = second_of_day % DAY_S
    return (second >= CURFEW[0]) | (second < CURFEW[1])


class Schedule:
    """Each officer's demo violations from ``start``: a yellow and a red at once, then one every
    REPEAT_S, yellow and red in turn, each by the next person of a rotation through the caseload."""

    def __init__(self, fleet: Fleet, caseloads: list[list[int]], start: float, local_midnight: float):
        self.start, self.local_midnight = start, local_midnight
        self.barred: list[list[int]] = []  # per officer: people with a barred place (red by entering it)
        self.others: list[list[int]] = []  # the rest (yellow exits and curfew breaches, red far exits)
        # Each start begins elsewhere among the quick phones: after a restart, the people a run left
        # out of bounds still have their open alert, and a new one comes only from someone else.
        turn = int(start // 60)
        for caseload in caseloads:
            candidates = [p for p in caseload if fleet.scenario[p] < 0]  # their own scenarios keep their labels
            barred = [p for p in candidates if not np.isnan(fleet.exclusion_centre[p, 0])]
            others = [p for p in candidates if p not in set(barred)] or barred
            self.barred.append(_quick_first(fleet, barred, turn))
            self.others.append(_quick_first(fleet, others, turn))

    def between(self, a: float, b: float) -> list[Violation]:
        """The violations whose onset lies in [a, b), epoch seconds, by onset."""
        found = []
        for officer in range(len(self.others)):
            if not self.others[officer]:
                continue
            first = self.start + FIRST_REPEAT_S + officer * OFFICER_STAGGER_S
            k_from = max(0, math.ceil((a - first) / REPEAT_S))
            opening = [(0, YELLOW, self.start), (1, RED, self.start)] if a <= self.start < b else []
            k = k_from
            repeats = []
            while (onset := first + k * REPEAT_S) < b:
                repeats.append((OPENING_KINDS + k, RED if k % 2 else YELLOW, onset))
                k += 1
            found += [self._violation(officer, n, level, onset) for n, level, onset in opening + repeats]
        return sorted(found, key=lambda v: (v.onset, v.officer))

    def _violation(self, officer: int, n: int, level: str, onset: float) -> Violation:
        """The officer's ``n``-th violation (yellow and red in turn). Yellows and far exits take turns
        through the even and odd places of the caseload (the best phones first), entries through the
        people with a barred place: no one is picked twice running."""
        night = in_curfew(onset - self.local_midnight)
        others, barred = self.others[officer], self.barred[officer]
        turn = n // 2  # the how-manieth of its level
        if level == YELLOW:
            kind = "curfew_breach" if night else "exit_short"
            return Violation(others[2 * turn % len(others)], officer, level, kind, onset)
        # Red: into the barred place, or (by day, every other time) far beyond the wall. At night the
        # curfew binds above the wall, so a far exit would be a curfew breach: yellow.
        if barred and (night or turn % 2 == 0):
            return Violation(barred[turn % len(barred)], officer, level, "exclusion_entry", onset)
        return Violation(others[(2 * turn + 1) % len(others)], officer, level, "exit_long", onset)


def _quick_first(fleet: Fleet, people: list[int], turn: int) -> list[int]:
    """People whose phones show a violation within a minute or two (GPS every 30 s, honest accuracy,
    a true clock) first, rotated by ``turn``; then the others, quickest first."""
    quick = [
        p
        for p in people
        if fleet.gps_interval_s[p] <= FAST_GPS_S and fleet.overconfidence[p] == 1 and abs(fleet.clock_skew_s[p]) <= 5
    ]
    rest = sorted(set(people) - set(quick), key=lambda p: (fleet.gps_interval_s[p], p))
    shift = turn % len(quick) if quick else 0
    return quick[shift:] + quick[:shift] + rest


def act_out(person: Person, kind: str, onset_s: float, sightings: list[tuple]) -> dict | None:
    """Bend ``person``'s planned day (ending at home) so that they are on the wrong side of ``kind``'s
    rule by second of day ``onset_s``; returns the planned window for the labels, or None when no way
    there keeps clear of what must not be crossed (the day stays as it was)."""
    original = [list(stop) for stop in person.stops]
    rng = random.Random(f"{person.fleet.seed}:{person.index}:{kind}:{round(onset_s)}")
    leave = onset_s - ON_WRONG_SIDE_BEFORE_S
    for _ in range(2):  # where they are when they leave depends on when they leave
        k = max(0, sum(1 for stop in original if stop[2] <= leave) - 1)
        person.stops[:] = [list(stop) for stop in original[: k + 1]]
        target, to_cross_m = _destination(person, kind, rng)
        if target is None:
            person.stops[:] = original
            return None
        speed = SPEED.get(kind) or mode_speed(distance(person.here, target), bool(person.fleet.has_car[person.index]))
        leave = onset_s - ON_WRONG_SIDE_BEFORE_S - to_cross_m / speed
    person.stops[k][3] = max(person.stops[k][2], leave)
    dwell = rng.uniform(*DWELL_S[kind])
    entering = kind == "exclusion_entry"
    if not person.go(
        target,
        not_before=leave,
        dwell=dwell,
        indoor=False,
        speed=speed,
        may_leave=True,
        may_enter=entering,
        direct=True,
    ):
        person.stops[:] = original
        return None
    left = person.stops[-2][3]
    person.go(person.home, not_before=0, dwell=0, indoor=True, speed=speed, may_leave=True, may_enter=True, direct=True)
    back = person.stops[-1][2]
    _resume(person, original, k + 1)
    # A camera cannot see them where they no longer go.
    sightings[:] = [s for s in sightings if s[0] != person.index or s[2] < left]
    return {"window": (left, back)}


def _destination(person: Person, kind: str, rng: random.Random) -> tuple[tuple | None, float]:
    """Where the violation takes the person from where they are, and how far they go before crossing."""
    here, home = person.here, person.home
    (cx, cy), radius = person.centre, person.radius
    if kind == "exclusion_entry":
        quarter = person.exclusion_radius / 4
        ex, ey = person.exclusion
        target = (ex + rng.uniform(-quarter, quarter), ey + rng.uniform(-quarter, quarter))
        return target, max(0.0, distance(here, person.exclusion) - person.exclusion_radius)
    for _ in range(20):
        if kind == "curfew_breach":
            angle, reach = rng.uniform(0, 2 * math.pi), rng.uniform(*CURFEW_OUTING_M)
            target = (home[0] + math.cos(angle) * reach, home[1] + math.sin(angle) * reach)
            ok = person.inside_wall(target) and distance(target, person.centre) < radius - 300
            crossing = CURFEW_RADIUS_M
        else:
            beyond = rng.uniform(*(SHORT_EXIT_M if kind == "exit_short" else FAR_EXIT_M))
            angle = math.atan2(here[1] - cy, here[0] - cx) + rng.uniform(-0.6, 0.6)
            target = (cx + math.cos(angle) * (radius + beyond), cy + math.sin(angle) * (radius + beyond))
            crossing = _to_circle(here, target, person.centre, radius)
            ok = True
        if ok and person.clear_of_exclusion(here, target) and person.clear_of_exclusion(target, home):
            return target, crossing
    return None, 0.0


def _to_circle(a: tuple, b: tuple, centre: tuple, radius: float) -> float:
    """How far along the straight way from ``a`` (inside the circle) to ``b`` it leaves the circle."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    fx, fy = a[0] - centre[0], a[1] - centre[1]
    length_sq = dx * dx + dy * dy
    along = -(fx * dx + fy * dy) / length_sq
    root = math.sqrt(max(0.0, along * along - (fx * fx + fy * fy - radius * radius) / length_sq))
    return (along + root) * math.sqrt(length_sq)


def _resume(person: Person, original: list[list], first: int) -> None:
    """Back home, the person takes up the rest of the day's routine (``original[first:]``) where it has got to."""
    for previous, stop in zip(original[first - 1 :], original[first:], strict=False):
        x, y, _, depart, indoor = stop[:5]
        if depart <= person.free_at:
            continue  # over already
        if distance((x, y), person.here) < 1:
            person.stops[-1][3] = max(person.free_at, depart)
            continue
        if person.go((x, y), not_before=previous[3], dwell=0, indoor=bool(indoor)):
            person.stops[-1][3] = max(person.stops[-1][2], depart)
    if not person.at_home:
        person.go(person.home, not_before=0, dwell=0, indoor=True, may_leave=True, may_enter=True)
    person.stops[-1][3] = max(person.free_at, DAY_S)


# Roll calls (点名) of the demo district. 常态化点名 at the real rules' pace (the demo runs in real time):
# high risk twice a day, medium daily, low weekly, by phone, at random times between 08:00 and 22:00.
ROLLCALL_RULES = tuple(
    {
        "risk_level": risk,
        "mode": "phone",
        "period": period,
        "times_per_period": times,
        "window_start": "08:00",
        "window_end": "22:00",
        "deadline_min": 10,
        "close_min": 30,
    }
    for risk, period, times in (("high", "day", 2), ("medium", "day", 1), ("low", "week", 1))
)
# And one ad-hoc roll call of the whole district soon after the start, short enough that a newcomer
# watches it through: answers on time, and at least one late, one missed and one 人机分离 among them.
OPENING_ROLLCALL_AFTER_S = 60
OPENING_ROLLCALL_MIN = (3, 6)  # deadline, close
ROLLCALL_SHARE = 0.03  # of the people without a scenario, drawn late, missed or mismatch
