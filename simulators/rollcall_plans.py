"""How a simulated person answers a roll call (点名), and the labels that say what the answer was.

Each person has a role: most answer on time; the fleet's ``rollcall_late`` and ``rollcall_missed``
people (and a drawn share of the others) answer after the deadline or never; ``mismatch`` people
answer from a phone kilometres away from their tracker (人机分离). A phone switched off when the call
comes answers once it is back on, which may make it late or a miss: the labels are what the answer
really was against the roll call's deadlines, never the role alone, so a label always agrees with
what the platform was sent. Pure functions: simulators.rollcalls sends the answers."""

import random
from dataclasses import dataclass

import numpy as np

from simulators.fleet import Fleet

ON_TIME, LATE, MISSED, MISMATCH = "on_time", "late", "missed", "mismatch"
ROLES = (LATE, MISSED, MISMATCH)
# The label each kind of answer carries, and the alert rule and level a correct platform raises.
LABELS = {
    LATE: ("rollcall_late", "rollcall_late", "yellow"),
    MISSED: ("rollcall_missed", "rollcall_missed", "red"),
    MISMATCH: ("rollcall_mismatch", "identity_check_failed", "red"),
}
# Answers keep this far from the deadline and the close, so that no request's delay changes their status.
MARGIN_S = 10.0
ON_TIME_DELAY_S = (30.0, 240.0)  # as the file simulator's routine answers (simulators.routine)
MISMATCH_GPS_S = 30.0


def roles(fleet: Fleet, share: float = 0.0, *, each_at_least: int = 0) -> list[str | None]:
    """Each person's roll-call role: the fleet's own roll-call scenarios, then ``share`` of the people
    with no scenario drawn late, missed or mismatch in turn, and at least ``each_at_least`` of each.
    Mismatches go to people whose trackers report often (GPS every MISMATCH_GPS_S or less): a phone
    can only be caught apart from a tracker that has reported lately."""
    drawn = np.random.default_rng([fleet.seed, 16]).uniform(0, 1, fleet.size) < share
    found: list[str | None] = [None] * fleet.size
    free = []
    for p in range(fleet.size):
        scenario = fleet.scenario_name(p)
        if scenario in ("rollcall_late", "rollcall_missed"):
            found[p] = LATE if scenario == "rollcall_late" else MISSED
        elif scenario is None:
            free.append(p)
    reporting = fleet.gps_interval_s <= MISMATCH_GPS_S
    turn = spill = 0
    for p in (p for p in free if drawn[p]):
        if ROLES[turn % len(ROLES)] == MISMATCH and not reporting[p]:
            # Late or missed in turn instead; the mismatch waits for someone whose tracker reports often.
            found[p], spill = (LATE, MISSED)[spill % 2], spill + 1
        else:
            found[p], turn = ROLES[turn % len(ROLES)], turn + 1
    for role in ROLES:
        spare = (p for p in free if found[p] is None and (role != MISMATCH or reporting[p]))
        for _ in range(each_at_least - found.count(role)):
            if (p := next(spare, None)) is not None:
                found[p] = role
    return found


@dataclass(frozen=True)
class Call:
    """One person's pending roll call, as their phone page shows it (times: epoch seconds)."""

    target_id: int
    roll_call_id: int
    person: int
    mode: str
    issued_at: float
    deadline_at: float
    closes_at: float


@dataclass(frozen=True)
class Plan:
    """How a person answers a call: when (None: never) and what that makes the answer."""

    call: Call
    at: float | None
    late: bool = False
    mismatch: bool = False


def plan_answer(
    call: Call,
    role: str | None,
    rng: random.Random,
    *,
    now: float,
    phone_back_at: float | None,
    on_time_s: tuple[float, float] = ON_TIME_DELAY_S,
) -> Plan:
    """When the person answers ``call`` by their role, learning of it at ``now`` (or when their phone is
    back on, ``phone_back_at``); an on-time answer takes ``on_time_s`` (at most half the time to the
    deadline); kept MARGIN_S clear of the deadline and the close."""
    if role == MISSED:
        return Plan(call, None)
    ready = max(now, phone_back_at + rng.uniform(30, 120) if phone_back_at is not None else now)
    if role == LATE:
        at = call.deadline_at + rng.uniform(0.2, 0.8) * (call.closes_at - call.deadline_at)
    else:
        window = call.deadline_at - call.issued_at
        at = call.issued_at + min(rng.uniform(*on_time_s), rng.uniform(0.2, 0.6) * window)
    at = max(at, ready)
    if at > call.deadline_at - MARGIN_S:
        at = max(at, call.deadline_at + MARGIN_S)
        if at > call.closes_at - MARGIN_S:
            return Plan(call, None)
        return Plan(call, at, late=True, mismatch=role == MISMATCH and call.mode == "phone")
    return Plan(call, at, mismatch=role == MISMATCH and call.mode == "phone")


def labels(plan: Plan, code: str) -> list[dict]:
    """The ground truth of one planned answer (simulators.stream's episode format plus the roll call)."""
    kinds = [MISSED] if plan.at is None else [k for k, on in ((LATE, plan.late), (MISMATCH, plan.mismatch)) if on]
    call = plan.call
    return [
        {
            "supervisee": code,
            "kind": LABELS[kind][0],
            "start": call.issued_at,
            "end": call.closes_at if plan.at is None else plan.at,
            "expected_level": LABELS[kind][2],
            "rule": LABELS[kind][1],
            "roll_call_id": call.roll_call_id,
            "target_id": call.target_id,
        }
        for kind in kinds
    ]
