"""Reading roll calls (点名) as staff see them — a roll call is visible to whoever may see one of its
people, and its counts and targets are limited to those people — and the phone page's questions (what
is pending for this person, which 报到 days are coming). Also cancelling a roll call and excusing one
person, the two staff changes besides issuing (rollcall.issue) and answering (rollcall.answers)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.orm import Session

from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer, Supervisee
from core.errors import Conflict, Forbidden, NotFound
from core.security import Role
from core.timezones import utcnow
from rollcall.issue import deadline_of
from rollcall.models import RollCall, RollCallMode, RollCallPhoto, RollCallTarget, TargetStatus
from rollcall.schemas import RollCallOut, RollCallStatus, TargetOut

CANCELLED_REASON = "点名已取消 roll call cancelled"
# Besides its issuer, who may cancel a roll call they can see.
CANCELLERS = frozenset({Role.supervisor, Role.command, Role.admin})
EXCUSERS = frozenset({Role.officer, Role.supervisor, Role.command, Role.admin})


def _visible_targets(session: Session, viewer: Officer) -> ColumnElement[bool]:
    return RollCallTarget.supervisee_id.in_(caseload_scope.visible_supervisee_ids(session=session, viewer=viewer))


def _visible_roll_calls(session: Session, viewer: Officer) -> ColumnElement[bool]:
    if viewer.role == Role.admin:
        return RollCall.id.is_not(None)
    return exists().where(RollCallTarget.roll_call_id == RollCall.id, _visible_targets(session, viewer))


def status_of(roll_call: RollCall, now: datetime) -> RollCallStatus:
    if roll_call.cancelled_at is not None:
        return RollCallStatus.cancelled
    return RollCallStatus.open if now < deadline_of(roll_call).closes_at else RollCallStatus.closed


def _counts(session: Session, viewer: Officer, roll_call_ids: Sequence[int]) -> dict[int, dict[TargetStatus, int]]:
    rows = session.execute(
        select(RollCallTarget.roll_call_id, RollCallTarget.status, func.count())
        .where(RollCallTarget.roll_call_id.in_(roll_call_ids), _visible_targets(session, viewer))
        .group_by(RollCallTarget.roll_call_id, RollCallTarget.status)
    )
    counts = {rid: dict.fromkeys(TargetStatus, 0) for rid in roll_call_ids}
    for rid, status, n in rows:
        counts[rid][status] = n
    return counts


def to_out(session: Session, viewer: Officer, roll_calls: Sequence[RollCall]) -> list[RollCallOut]:
    """Roll calls as the API shows them, with the viewer's counts by status."""
    counts = _counts(session, viewer, [rc.id for rc in roll_calls])
    now = utcnow()
    out = []
    for rc in roll_calls:
        due = deadline_of(rc)
        fields = {name: getattr(rc, name) for name in RollCallOut.model_fields if hasattr(rc, name)}
        out.append(
            RollCallOut(
                **fields | {"deadline_at": due.deadline_at, "closes_at": due.closes_at},
                status=status_of(rc, now),
                counts=counts[rc.id],
            )
        )
    return out


def list_roll_calls(
    *,
    session: Session,
    viewer: Officer,
    status: RollCallStatus | None = None,
    mode: RollCallMode | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[RollCallOut]:
    """Roll calls with someone the viewer may see, newest first."""
    query = select(RollCall).where(_visible_roll_calls(session, viewer))
    if mode is not None:
        query = query.where(RollCall.mode == mode)
    if since is not None:
        query = query.where(RollCall.issued_at >= since)
    if status == RollCallStatus.cancelled:
        query = query.where(RollCall.cancelled_at.is_not(None))
    elif status is not None:
        # Any open target means the roll call is open (every target has its roll call's closes_at).
        still_open = exists().where(RollCallTarget.roll_call_id == RollCall.id, RollCallTarget.closes_at > func.now())
        query = query.where(
            RollCall.cancelled_at.is_(None), still_open if status == RollCallStatus.open else ~still_open
        )
    found = session.scalars(query.order_by(RollCall.id.desc()).limit(limit).offset(offset)).all()
    return to_out(session, viewer, found)


def _get(session: Session, viewer: Officer, roll_call_id: int) -> RollCall:
    roll_call = session.scalar(
        select(RollCall).where(RollCall.id == roll_call_id, _visible_roll_calls(session, viewer))
    )
    if roll_call is None:
        raise NotFound(f"roll call {roll_call_id} not found")
    return roll_call


def get_roll_call(session: Session, viewer: Officer, roll_call_id: int) -> RollCallOut:
    """One roll call the viewer may see (404 otherwise)."""
    return to_out(session, viewer, [_get(session, viewer, roll_call_id)])[0]


def list_targets(
    session: Session,
    viewer: Officer,
    roll_call_id: int,
    status: TargetStatus | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[TargetOut]:
    """The people of a roll call the viewer may see, with their answers, in person-code order."""
    _get(session, viewer, roll_call_id)
    has_photo = exists().where(RollCallPhoto.target_id == RollCallTarget.id)
    query = (
        select(RollCallTarget, Supervisee.code, Supervisee.full_name, has_photo)
        .join(Supervisee, Supervisee.id == RollCallTarget.supervisee_id)
        .where(RollCallTarget.roll_call_id == roll_call_id, _visible_targets(session, viewer))
    )
    if status is not None:
        query = query.where(RollCallTarget.status == status)
    rows = session.execute(query.order_by(Supervisee.code).limit(limit).offset(offset))
    return [_target_out(target, code, name, photo) for target, code, name, photo in rows]


def _target_out(target: RollCallTarget, code: str, name: str, has_photo: bool) -> TargetOut:
    fields = {name: getattr(target, name) for name in TargetOut.model_fields if hasattr(target, name)}
    return TargetOut(
        **fields,
        person_code=code,
        person_name=name,
        lat=target.answer_lat,
        lon=target.answer_lon,
        accuracy_m=target.answer_accuracy_m,
        has_photo=has_photo,
    )


@dataclass(frozen=True)
class PendingCall:
    """A roll call a person still has to answer, as their phone page shows it."""

    target_id: int
    roll_call_id: int
    mode: RollCallMode
    message: str | None
    issued_at: datetime
    deadline_at: datetime
    closes_at: datetime
    office_date: date | None


def _pending(session: Session, supervisee_id: int, *modes: RollCallMode) -> list[PendingCall]:
    rows = session.execute(
        select(RollCallTarget, RollCall)
        .join(RollCall, RollCall.id == RollCallTarget.roll_call_id)
        .where(
            RollCallTarget.supervisee_id == supervisee_id,
            RollCallTarget.status == TargetStatus.pending,
            RollCallTarget.closes_at > func.now(),
            RollCall.mode.in_(modes),
            RollCall.cancelled_at.is_(None),
        )
        .order_by(RollCallTarget.deadline_at, RollCallTarget.id)
    )
    return [
        PendingCall(t.id, rc.id, rc.mode, rc.message, rc.issued_at, t.deadline_at, t.closes_at, rc.office_date)
        for t, rc in rows
    ]


def pending_for(*, session: Session, supervisee_id: int) -> list[PendingCall]:
    """The phone and camera roll calls the person may still answer (late ones too), soonest deadline first."""
    return _pending(session, supervisee_id, RollCallMode.phone, RollCallMode.camera)


def upcoming_office(*, session: Session, supervisee_id: int) -> list[PendingCall]:
    """The 报到 days the person has not checked in for yet, today's included, soonest first."""
    return _pending(session, supervisee_id, RollCallMode.office)


def cancel(*, session: Session, viewer: Officer, roll_call_id: int) -> RollCallOut:
    """Cancel an open roll call: its pending targets are excused. Its issuer, or a supervisor or above."""
    roll_call = _get(session, viewer, roll_call_id)
    if viewer.role not in CANCELLERS and roll_call.issued_by != viewer.id:
        raise Forbidden("only the officer who issued this roll call, or a supervisor, may cancel it")
    now = utcnow()
    if roll_call.cancelled_at is not None:
        raise Conflict(f"roll call {roll_call_id} was already cancelled")
    if status_of(roll_call, now) == RollCallStatus.closed:
        raise Conflict(f"roll call {roll_call_id} is closed: excuse people one by one instead")
    roll_call.cancelled_at = now
    excused = session.execute(
        update(RollCallTarget)
        .where(RollCallTarget.roll_call_id == roll_call_id, RollCallTarget.status == TargetStatus.pending)
        .values(status=TargetStatus.excused, excused_reason=CANCELLED_REASON)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.flush()
    caseload_service.record(session, viewer, "roll_call.cancel", roll_call_id, {"excused": excused})
    return get_roll_call(session, viewer, roll_call_id)


def excuse(*, session: Session, viewer: Officer, target_id: int, reason: str) -> TargetOut:
    """Release one person from a roll call, with the reason: pending or missed become excused (not
    counted as missed; an alert already raised stays for the officer to resolve)."""
    if viewer.role not in EXCUSERS:
        raise Forbidden(f"a {viewer.role} may not excuse roll calls")
    target = session.scalar(
        select(RollCallTarget)
        .where(RollCallTarget.id == target_id, _visible_targets(session, viewer))
        .with_for_update()
    )
    if target is None:
        raise NotFound(f"roll-call target {target_id} not found")
    if target.status not in (TargetStatus.pending, TargetStatus.missed):
        raise Conflict(f"this person's roll call is {target.status}: only a pending or missed one can be excused")
    previous = target.status
    target.status, target.excused_reason = TargetStatus.excused, reason
    session.flush()
    caseload_service.record(
        session,
        viewer,
        "roll_call_target.excuse",
        target_id,
        {"roll_call_id": target.roll_call_id, "supervisee_id": target.supervisee_id, "was": previous, "reason": reason},
    )
    person = session.get(Supervisee, target.supervisee_id)
    return _target_out(target, person.code, person.full_name, _has_photo(session, target_id))


def _has_photo(session: Session, target_id: int) -> bool:
    return session.scalar(select(exists().where(RollCallPhoto.target_id == target_id)))
