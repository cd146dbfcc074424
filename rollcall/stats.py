"""Roll-call statistics per officer and per district (the officers are supervised too): how many were
called, answered on time, late, missed, excused, the answer rate and the median delay, over the roll
calls issued in a time range, for the people the viewer may see."""

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import District, Officer, Supervisee
from core.errors import Invalid
from core.timezones import utcnow
from rollcall.models import RollCall, RollCallTarget, TargetStatus
from rollcall.schemas import StatsOut, StatsRow

DEFAULT_DAYS = 30
UNASSIGNED = "未分配 Unassigned"


def _counted(status: TargetStatus) -> ColumnElement[int]:
    return func.count().filter(RollCallTarget.status == status)


def _rows(session: Session, group: ColumnElement, where: list[ColumnElement[bool]]) -> list:
    delay_s = func.extract("epoch", RollCallTarget.answered_at - RollCall.issued_at)
    answered = RollCallTarget.status.in_([TargetStatus.answered, TargetStatus.late])
    query = (
        select(
            group.label("group_id"),
            func.count().label("called"),
            *(_counted(s).label(s.value) for s in TargetStatus),
            func.percentile_cont(0.5).within_group(delay_s).filter(answered).label("median_delay_s"),
        )
        .select_from(RollCallTarget)
        .join(RollCall, RollCall.id == RollCallTarget.roll_call_id)
        .join(Supervisee, Supervisee.id == RollCallTarget.supervisee_id)
        .where(*where)
        .group_by(group)
    )
    return session.execute(query).all()


def _row(row, name: str) -> StatsRow:
    decided = row.called - row.excused - row.pending
    return StatsRow(
        id=row.group_id or 0,
        name=name,
        called=row.called,
        answered=row.answered,
        late=row.late,
        missed=row.missed,
        excused=row.excused,
        pending=row.pending,
        answer_rate=round((row.answered + row.late) / decided, 4) if decided else None,
        median_delay_s=round(row.median_delay_s, 1) if row.median_delay_s is not None else None,
    )


def stats(
    *,
    session: Session,
    viewer: Officer,
    since: datetime | None = None,
    until: datetime | None = None,
    district_id: int | None = None,
) -> StatsOut:
    """Per officer (the person's officer now) and per district (the person's own), over the roll calls
    issued in [since, until) — by default the last 30 days — for the people the viewer may see."""
    until = until or utcnow()
    since = since or until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        raise Invalid(f"'since' ({since:%Y-%m-%d %H:%M}) must be before 'until' ({until:%Y-%m-%d %H:%M})")
    where = [
        RollCall.issued_at >= since,
        RollCall.issued_at < until,
        caseload_scope.supervisee_scope(session=session, viewer=viewer),
    ]
    if district_id is not None:
        caseload_scope.require_district_visible(session, viewer, district_id)
        where.append(
            Supervisee.district_id.in_(caseload_scope.district_subtree(session=session, district_id=district_id))
        )
    by_officer = _rows(session, Supervisee.officer_id, where)
    by_district = _rows(session, Supervisee.district_id, where)
    officers = caseload_service.officer_names(
        session=session, officer_ids=[r.group_id for r in by_officer if r.group_id]
    )
    districts = dict(
        session.execute(
            select(District.id, District.name).where(District.id.in_([r.group_id for r in by_district]))
        ).all()
    )
    return StatsOut(
        since=since,
        until=until,
        officers=sorted(
            (_row(r, officers[r.group_id][1] if r.group_id else UNASSIGNED) for r in by_officer), key=lambda s: s.name
        ),
        districts=sorted((_row(r, districts[r.group_id]) for r in by_district), key=lambda s: s.name),
    )
