"""Roll-call outcomes become alerts (the real alerts worker reading rollcall.v1): one per rule, person
and roll call, replays change nothing, other roll-call events are skipped; and the deadline timer
(the real rollcall worker) marks who did not answer by the close as missed, raising a red alert."""

import time

from sqlalchemy import text

from alerts import rules
from core import bus
from core.db import session_scope
from tests.factories import eventually


def outcome(rule: str, level: str, person: int, roll_call: int, target: int) -> dict:
    return {
        "kind": "outcome",
        "rule": rule,
        "level": level,
        "supervisee_id": person,
        "roll_call_id": roll_call,
        "target_id": target,
        "ts_us": int(time.time() * 1e6),
        "evidence": {"distance_m": 2400.0} if rule == rules.IDENTITY_CHECK_FAILED else {},
    }


def _publish(events: list[dict]) -> None:
    publisher = bus.Publisher()
    try:
        # One partition: the worker sees them in this order.
        publisher.publish(bus.ROLLCALL, [("rollcall", bus.encode(e), 0) for e in events])
    finally:
        publisher.close()


def _alerts(people: list[int]) -> list[tuple]:
    with session_scope() as session:
        query = text(
            "SELECT supervisee_id, rule, level::text, dedup_key, evidence FROM alert "
            "WHERE supervisee_id = ANY(:p) ORDER BY id"
        )
        return session.execute(query, {"p": people}).all()


def test_outcomes_become_one_alert_each_and_replays_add_none(platform, admin_api):
    district = admin_api.district()["id"]
    late, missed, repeat, sentinel = (admin_api.supervisee(district, monitored=False)["id"] for _ in range(4))
    events = [
        {"kind": "issued", "roll_call_id": 1, "mode": "phone", "deadline_at": "x", "supervisee_ids": [late]},
        outcome(rules.ROLLCALL_LATE, "yellow", late, 901, 11),
        {"kind": "answered", "roll_call_id": 901, "target_id": 11, "supervisee_id": late, "status": "late"},
        outcome(rules.IDENTITY_CHECK_FAILED, "red", late, 901, 11),
        outcome(rules.ROLLCALL_MISSED, "red", missed, 901, 12),
        {"kind": "closed", "roll_call_id": 901, "missed": 1},
        # A third late answer within seven days is red, as for any yellow.
        *(outcome(rules.ROLLCALL_LATE, "yellow", repeat, 910 + n, 20 + n) for n in range(3)),
    ]
    _publish(events)
    eventually(lambda: len(_alerts([late, missed, repeat])) == 6, what="six roll-call alerts")
    _publish([*events, outcome(rules.ROLLCALL_MISSED, "red", sentinel, 902, 13)])
    eventually(lambda: _alerts([sentinel]), what="the alert after the replayed events")
    found = _alerts([late, missed, repeat])
    assert [(p, rule, level, key) for p, rule, level, key, _ in found] == [
        (late, "rollcall_late", "yellow", f"rollcall_late:{late}:901"),
        (late, "identity_check_failed", "red", f"identity_check_failed:{late}:901"),
        (missed, "rollcall_missed", "red", f"rollcall_missed:{missed}:901"),
        (repeat, "rollcall_late", "yellow", f"rollcall_late:{repeat}:910"),
        (repeat, "rollcall_late", "yellow", f"rollcall_late:{repeat}:911"),
        (repeat, "rollcall_late", "red", f"rollcall_late:{repeat}:912"),
    ]
    evidence = found[1][4]["first"]
    assert evidence["distance_m"] == 2400.0 and evidence["roll_call_id"] == 901 and evidence["target_id"] == 11


def test_whoever_has_not_answered_by_the_close_has_missed_it(platform, admin_api):
    district = admin_api.district()["id"]
    person = admin_api.supervisee(district, monitored=False)["id"]
    answered = admin_api.supervisee(district, monitored=False)["id"]
    made = admin_api.call("POST", "/rollcalls", 201, json={"mode": "phone", "audience": {"district_id": district}})
    with session_scope() as session:
        # Tests do not wait for the clock: the close is moved into the past, one person has answered.
        session.execute(
            text(
                "UPDATE roll_call_target SET deadline_at = now() - interval '20 minutes', "
                "closes_at = now() - interval '1 second' WHERE roll_call_id = :r"
            ),
            {"r": made["id"]},
        )
        session.execute(
            text("UPDATE roll_call_target SET status = 'answered', answered_at = now() WHERE supervisee_id = :p"),
            {"p": answered},
        )

    def statuses() -> dict:
        targets = admin_api.call("GET", f"/rollcalls/{made['id']}/targets")
        return {t["supervisee_id"]: t["status"] for t in targets}

    eventually(lambda: statuses()[person] == "missed", what="the deadline timer")
    assert statuses()[answered] == "answered"
    [(_, rule, level, key, evidence)] = eventually(lambda: _alerts([person, answered]), what="the missed alert")
    assert (rule, level, key) == ("rollcall_missed", "red", f"rollcall_missed:{person}:{made['id']}")
    assert evidence["first"]["mode"] == "phone" and evidence["first"]["roll_call_id"] == made["id"]
