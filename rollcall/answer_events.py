"""The rollcall.v1 records the answer path publishes after its commit: ``answered`` for the console and
phone pages, ``outcome`` for the alerts worker (late, missed, identity check failed)."""

from datetime import datetime

from alerts import rules
from core.wire import AlertLevel

LEVELS = {
    rules.ROLLCALL_LATE: AlertLevel.yellow,
    rules.ROLLCALL_MISSED: AlertLevel.red,
    rules.IDENTITY_CHECK_FAILED: AlertLevel.red,
}


# An answer is a dict of roll_call_target's columns (those the answer sets) plus ``roll_call_id``.


def answered(answer: dict) -> dict:
    return {
        "kind": "answered",
        "roll_call_id": answer["roll_call_id"],
        "target_id": answer["id"],
        "supervisee_id": answer["supervisee_id"],
        "status": answer["status"].value,
        "answered_at": answer["answered_at"].isoformat(),
        "via": answer["answered_via"].value,
        "lat": answer["answer_lat"],
        "lon": answer["answer_lon"],
        "accuracy_m": answer.get("answer_accuracy_m"),
        "tracker_distance_m": answer.get("tracker_distance_m"),
        "separated": answer.get("separated"),
    }


def outcome(rule: str, answer: dict, evidence: dict, at: datetime | None = None) -> dict:
    return {
        "kind": "outcome",
        "rule": rule,
        "level": LEVELS[rule].value,
        "supervisee_id": answer["supervisee_id"],
        "roll_call_id": answer["roll_call_id"],
        "target_id": answer["id"],
        "ts_us": int((at or answer["answered_at"]).timestamp() * 1_000_000),
        "evidence": evidence,
    }


def position_evidence(answer: dict, tracker_accuracy_m: float | None) -> dict:
    """Where the answer and the tracker were, how far apart and how sure, for an officer judging 人机分离."""
    tracker_ts = answer.get("tracker_ts")
    return {
        "answer": {"lat": answer["answer_lat"], "lon": answer["answer_lon"], "accuracy_m": answer["answer_accuracy_m"]},
        "tracker": {
            "lat": answer.get("tracker_lat"),
            "lon": answer.get("tracker_lon"),
            "accuracy_m": tracker_accuracy_m,
            "ts": tracker_ts.isoformat() if tracker_ts else None,
        },
        "distance_m": answer.get("tracker_distance_m"),
        "answered_at": answer["answered_at"].isoformat(),
    }
