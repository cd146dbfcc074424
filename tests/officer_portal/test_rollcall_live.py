"""The roll-call console's live feed: which rollcall.v1 events reach which console (its roll call, and
only people in the watcher's caseload), and that unreadable or other records are skipped."""

import numpy as np

from core import bus
from officer_portal.rollcall_live import _Console, audience, decode_events


def console(officer_id: int, roll_call_id: int, caseload: list[int]) -> _Console:
    return _Console(officer_id, roll_call_id, np.array(sorted(caseload), np.int64))


def test_answers_go_to_watchers_of_their_roll_call_who_may_see_the_person():
    mine, other_call, other_caseload = console(1, 7, [3, 5]), console(2, 8, [3, 5]), console(3, 7, [4])
    consoles = (mine, other_call, other_caseload)
    answered = {"kind": "answered", "roll_call_id": 7, "supervisee_id": 5, "target_id": 70}
    assert audience(answered, consoles) == [mine]
    outcome = {"kind": "outcome", "roll_call_id": 7, "supervisee_id": 4, "rule": "rollcall_missed"}
    assert audience(outcome, consoles) == [other_caseload]
    closed = {"kind": "closed", "roll_call_id": 7, "missed": 1}
    assert audience(closed, consoles) == [mine, other_caseload]
    assert audience({"kind": "cancelled", "roll_call_id": 7}, consoles) == [mine, other_caseload]
    assert audience({**answered, "supervisee_id": 6}, consoles) == []  # beyond the end of a caseload


def test_only_readable_console_events_are_decoded():
    values = [
        bus.encode({"kind": "issued", "roll_call_id": 7, "supervisee_ids": [3]}),  # the phone pages' business
        b"not json",
        bus.encode({"kind": "answered", "roll_call_id": "7"}),  # no person
        bus.encode({"kind": "answered", "roll_call_id": "7", "supervisee_id": "5", "status": "late"}),
        bus.encode(["a list"]),
        bus.encode({"kind": "cancelled", "roll_call_id": 7, "supervisee_ids": list(range(10_000))}),
    ]
    assert decode_events(values) == [
        {"kind": "answered", "roll_call_id": 7, "supervisee_id": 5, "status": "late"},
        {"kind": "cancelled", "roll_call_id": 7},  # its people stay out of the consoles' streams
    ]
