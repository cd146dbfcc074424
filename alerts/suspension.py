"""Suspending one person's alerts for a bounded time, with a reason (a hospital stay with the phone
off, an approved trip the zones do not cover yet). While a suspension is in force, evidence opens no
new episode; episodes already open go on and end as usual.

A suspension covers evidence by the evidence's own time, so a late delivery from inside the window
stays suppressed and a replay decides as the first delivery did."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from alerts.config import get_alert_settings
from alerts.models import AlertSuspension
from caseload import service as caseload_service
from caseload.models import Officer
from core import audit
from core.errors import Conflict, Invalid, NotFound
from core.timezones import utcnow
from core.wire import AlertLevel

SYSTEM = "system"
# least() skips NULLs: a suspension not lifted early ends at until_at.
_ENDS_AT = func.least(AlertSuspension.until_at, AlertSuspension.ended_at)


def _in_force(at: datetime) -> ColumnElement[bool]:
    return and_(AlertSuspension.from_at <= at, at < _ENDS_AT)


def _fmt(ts: datetime) -> str:
    return f"{ts:%Y-%m-%d %H:%M} UTC"


def create(*, session: Session, viewer: Officer, supervisee_id: int, until: datetime, reason: str) -> AlertSuspension:
    """Suspend a person's new alerts from now until ``until``."""
    caseload_service.get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    now = utcnow()
    max_days = get_alert_settings().suspension_max_days
    if until <= now:
        raise Invalid(f"'until' ({_fmt(until)}) is not in the future")
    if until > now + timedelta(days=max_days):
        raise Invalid(f"a suspension may last at most {max_days} days (until {_fmt(now + timedelta(days=max_days))})")
    current = session.scalar(
        select(AlertSuspension).where(AlertSuspension.supervisee_id == supervisee_id, _in_force(now)).limit(1)
    )
    if current is not None:
        raise Conflict(
            f"alerts of supervisee {supervisee_id} are already suspended until {_fmt(current.until_at)} "
            f"(suspension {current.id}); lift that one first to set another"
        )
    row = AlertSuspension(supervisee_id=supervisee_id, from_at=now, until_at=until, reason=reason, created_by=viewer.id)
    session.add(row)
    session.flush()
    caseload_service.record(
        session,
        viewer,
        "alert_suspension.create",
        row.id,
        {"supervisee_id": supervisee_id, "from_at": now.isoformat(), "until_at": until.isoformat(), "reason": reason},
    )
    return row


def list_suspensions(
    *, session: Session, viewer: Officer, supervisee_id: int, limit: int | None = None, offset: int = 0
) -> Sequence[AlertSuspension]:
    """A person's suspensions, newest first."""
    caseload_service.get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    return session.scalars(
        select(AlertSuspension)
        .where(AlertSuspension.supervisee_id == supervisee_id)
        .order_by(AlertSuspension.from_at.desc(), AlertSuspension.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()


def lift(*, session: Session, viewer: Officer, supervisee_id: int, suspension_id: int) -> AlertSuspension:
    """End a suspension before its time."""
    caseload_service.get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    row = session.get(AlertSuspension, suspension_id, with_for_update=True)
    if row is None or row.supervisee_id != supervisee_id:
        raise NotFound(f"suspension {suspension_id} not found for supervisee {supervisee_id}")
    now = utcnow()
    if row.ended_at is not None:
        raise Conflict(f"suspension {suspension_id} was already lifted at {_fmt(row.ended_at)}")
    if row.until_at <= now:
        raise Conflict(f"suspension {suspension_id} already ran out at {_fmt(row.until_at)}")
    row.ended_at = now
    row.ended_by = viewer.id
    session.flush()
    caseload_service.record(
        session, viewer, "alert_suspension.lift", row.id, {"supervisee_id": supervisee_id, "at": now.isoformat()}
    )
    return row


def covering(*, session: Session, supervisee_id: int, at: datetime) -> AlertSuspension | None:
    """The suspension in force for this person at ``at``, locked for note_suppressed."""
    return session.scalar(
        select(AlertSuspension)
        .where(AlertSuspension.supervisee_id == supervisee_id, _in_force(at))
        .order_by(AlertSuspension.id)
        .limit(1)
        .with_for_update()
    )


def suspended_at(*, at: datetime) -> ColumnElement:
    """A subquery of the ids of the people whose alerts are suspended at ``at``, for other domains'
    filters (a scheduled roll call skips them)."""
    return select(AlertSuspension.supervisee_id).where(_in_force(at)).scalar_subquery()


def note_suppressed(
    *,
    session: Session,
    suspension: AlertSuspension,
    key: str,
    rule: str,
    level: AlertLevel,
    at: datetime,
    evidence: dict,
) -> None:
    """Keep what a suspension held back. Sources repeat themselves (the watchdog re-reports a silence
    every round, workers replay), so the audit chain gets the first evidence of each episode key once
    per suspension, and the row keeps a tally: highest level, count of ever newer evidence, first and
    last evidence time."""
    entry = suspension.suppressed.get(key)
    stamp = at.isoformat()
    if entry is None:
        audit.append(
            session,
            actor=SYSTEM,
            action="alert.suppressed",
            entity="alert_suspension",
            entity_id=suspension.id,
            detail={
                "supervisee_id": suspension.supervisee_id,
                "key": key,
                "rule": rule,
                "level": level.value,
                "at": stamp,
                "evidence": evidence,
            },
        )
        entry = {"rule": rule, "level": level.value, "count": 1, "first_at": stamp, "last_at": stamp}
    else:
        entry = {**entry, "level": AlertLevel.red.value if level == AlertLevel.red else entry["level"]}
        if at > datetime.fromisoformat(entry["last_at"]):
            entry |= {"count": entry["count"] + 1, "last_at": stamp}
    suspension.suppressed = {**suspension.suppressed, key: entry}
    session.flush()


def resume_times(*, session: Session, due: Mapping[int, datetime]) -> dict[int, datetime]:
    """For each person, the first moment at or after their due time that no suspension covers (a
    condition that outlasts a suspension, such as a silence, is reported from the suspension's end)."""
    resume = dict(due)
    if not resume:
        return resume
    rows = session.execute(
        select(AlertSuspension.supervisee_id, AlertSuspension.from_at, _ENDS_AT)
        .where(AlertSuspension.supervisee_id.in_(list(resume)), min(resume.values()) < _ENDS_AT)
        .order_by(AlertSuspension.supervisee_id, AlertSuspension.from_at)
    )
    # In order of start, each suspension that covers the moment found so far moves it to its end.
    for supervisee_id, start, end in rows:
        if start <= resume[supervisee_id] < end:
            resume[supervisee_id] = end
    return resume
