"""The deadline timer: a person still pending when their roll call closes has missed it (red
``rollcall_missed``). Each round marks them in bounded UPDATE … RETURNING statements and turns the
returned rows into ``outcome`` events for the alerts worker."""

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from alerts import rules
from core import bus
from core.wire import AlertLevel

# Targets marked per transaction: a 100,000-person roll call closes in a few steps, none holding
# locks on everyone while its events are published.
CHUNK = 10_000

_MARK_MISSED = text(
    """
    UPDATE roll_call_target AS t SET status = 'missed'
    FROM roll_call AS r
    WHERE r.id = t.roll_call_id
      AND t.id IN (
        SELECT id FROM roll_call_target
        WHERE status = 'pending' AND closes_at <= now()
        ORDER BY closes_at
        LIMIT :chunk
        FOR UPDATE SKIP LOCKED
      )
    RETURNING t.id AS target_id, t.roll_call_id, t.supervisee_id, t.deadline_at, t.closes_at, r.mode
    """
)


def missed_event(
    *, target_id: int, roll_call_id: int, supervisee_id: int, deadline_at: datetime, closes_at: datetime, mode: str
) -> dict:
    """The ``outcome`` event of one missed roll call, stamped at its close."""
    return {
        "kind": "outcome",
        "rule": rules.ROLLCALL_MISSED,
        "level": AlertLevel.red.value,
        "supervisee_id": supervisee_id,
        "roll_call_id": roll_call_id,
        "target_id": target_id,
        "ts_us": int(closes_at.timestamp() * 1_000_000),
        "evidence": {
            "mode": str(mode),
            "deadline_at": deadline_at.isoformat(),
            "closes_at": closes_at.isoformat(),
            "reason": "no answer before the roll call closed",
        },
    }


def outcome_records(events: Sequence[dict]) -> list[bus.Record]:
    """rollcall.v1 records of outcome (or answered) events: keyed by person, so theirs stay in order."""
    return [(str(e["supervisee_id"]), bus.encode(e)) for e in events]


def close_overdue(*, session: Session, publish: Callable[[list[bus.Record]], None]) -> int:
    """Mark every pending target past its close as missed and publish their outcomes; returns how many.

    Each chunk's events are published before its transaction commits, with its rows locked: a crash or
    a broker outage between the two leaves the rows pending, to be marked and published again next
    round (at least once; the alerts side is idempotent by dedup key). Publishing after the commit
    would lose the alerts of a worker that died in between."""
    total = 0
    while True:
        rows = session.execute(_MARK_MISSED, {"chunk": CHUNK}).all()
        if not rows:
            session.rollback()
            return total
        publish(outcome_records([missed_event(**row._mapping) for row in rows]))
        session.commit()
        total += len(rows)
        if len(rows) < CHUNK:
            return total
