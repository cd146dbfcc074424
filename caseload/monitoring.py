"""Who is monitored and when: approved electronic monitoring periods (社区矫正法 art. 29), their
renewals and releases, the windows the workers gate on, and who answers for a whole district: what
the watchdog asks of the caseload when it tells a person's silence from a gateway's or a district's."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, DateTime, Select, and_, cast, func, select
from sqlalchemy.orm import Session

from caseload import periods, schemas
from caseload.models import Device, Gateway, MonitoringPeriod, Officer, Supervisee
from caseload.scope import district_subtree, supervisee_scope
from caseload.service import district_paths, get_supervisee, record
from core.config import get_settings
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.security import Role
from core.timezones import display_tz, utcnow

# 县级司法行政部门负责人: approval is a decision above the person's own officer.
APPROVERS = frozenset({Role.supervisor, Role.command, Role.admin})


def _in_force_from() -> ColumnElement[datetime]:
    return func.timezone(get_settings().display_tz, cast(MonitoringPeriod.starts_on, DateTime))


def _in_force_until() -> ColumnElement[datetime]:
    last_day_ends = func.timezone(get_settings().display_tz, cast(MonitoringPeriod.ends_on + 1, DateTime))
    return func.least(last_day_ends, func.coalesce(MonitoringPeriod.released_at, last_day_ends))


def in_force(at: datetime | ColumnElement) -> ColumnElement[bool]:
    """A WHERE clause on MonitoringPeriod: in force at this time."""
    return and_(_in_force_from() <= at, at < _in_force_until())


def _monitored() -> ColumnElement[bool]:
    """Active people with an active device and a monitoring period in force: the ones whose silence
    means something."""
    has_device = select(Device.id).where(Device.supervisee_id == Supervisee.id, Device.active).exists()
    has_period = (
        select(MonitoringPeriod.id)
        .where(MonitoringPeriod.supervisee_id == Supervisee.id, in_force(func.now()))
        .exists()
    )
    return and_(Supervisee.active, has_device, has_period)


# Periods ------------------------------------------------------------------------------------------


def _approver(viewer: Officer) -> None:
    if viewer.role not in APPROVERS:
        raise Forbidden(
            "electronic monitoring is approved by the county judicial office's head "
            "(role supervisor, command or admin), not by the person's own officer"
        )


def _locked_person(session: Session, viewer: Officer, supervisee_id: int) -> Supervisee:
    """The person, locked so that two approvals cannot overlap."""
    supervisee = get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    session.execute(select(Supervisee.id).where(Supervisee.id == supervisee_id).with_for_update())
    if not supervisee.active:
        raise Conflict("supervision of this person has ended; reactivate them first")
    return supervisee


def _overlapping(session: Session, supervisee_id: int, starts_on, ends_on) -> MonitoringPeriod | None:
    tz = display_tz()
    start, end = periods.begins_at(starts_on, tz), periods.begins_at(ends_on + timedelta(days=1), tz)
    return session.scalar(
        select(MonitoringPeriod)
        .where(MonitoringPeriod.supervisee_id == supervisee_id, _in_force_from() < end, start < _in_force_until())
        .limit(1)
    )


def list_periods(*, session: Session, viewer: Officer, supervisee_id: int) -> Sequence[MonitoringPeriod]:
    """A person's monitoring periods and renewals, oldest first."""
    get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    query = select(MonitoringPeriod).where(MonitoringPeriod.supervisee_id == supervisee_id)
    return session.scalars(query.order_by(MonitoringPeriod.starts_on)).all()


def get_period(*, session: Session, viewer: Officer, supervisee_id: int, period_id: int) -> MonitoringPeriod:
    get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    period = session.get(MonitoringPeriod, period_id)
    if period is None or period.supervisee_id != supervisee_id:
        raise NotFound(f"monitoring period {period_id} not found for supervisee {supervisee_id}")
    return period


def create_period(
    *, session: Session, viewer: Officer, supervisee_id: int, data: schemas.MonitoringPeriodIn
) -> MonitoringPeriod:
    """Record a period the caller approves: at most 3 months, overlapping none."""
    _approver(viewer)
    _locked_person(session, viewer, supervisee_id)
    if data.ends_on < data.starts_on:
        raise Invalid("ends_on is before starts_on")
    limit = periods.latest_last_day(data.starts_on)
    if data.ends_on > limit:
        raise Invalid(
            f"electronic monitoring lasts at most 3 months at a time (社区矫正法 art. 29): "
            f"a period from {data.starts_on} ends on {limit} at the latest; renew it for longer"
        )
    if (other := _overlapping(session, supervisee_id, data.starts_on, data.ends_on)) is not None:
        raise Conflict(
            f"overlaps monitoring period {other.id} ({other.starts_on} to {other.ends_on}); "
            "renew that one or release it first"
        )
    return _add(session, viewer, MonitoringPeriod(supervisee_id=supervisee_id, **data.model_dump()))


def renew_period(
    *, session: Session, viewer: Officer, supervisee_id: int, period_id: int, data: schemas.MonitoringRenewalIn
) -> MonitoringPeriod:
    """Renew a period still in force (or yet to begin) by at most 3 months from its last day."""
    _approver(viewer)
    _locked_person(session, viewer, supervisee_id)
    previous = get_period(session=session, viewer=viewer, supervisee_id=supervisee_id, period_id=period_id)
    if previous.released_at is not None:
        raise Conflict(f"monitoring period {period_id} was released; a new period needs its own approval")
    if periods.window(previous, display_tz())[1] <= utcnow():
        raise Conflict(f"monitoring period {period_id} has ended; a new period needs its own approval")
    if session.scalar(select(MonitoringPeriod.id).where(MonitoringPeriod.renews_id == period_id)):
        raise Conflict(f"monitoring period {period_id} is already renewed; renew the latest renewal")
    starts_on = previous.ends_on + timedelta(days=1)
    limit = periods.latest_last_day(previous.ends_on)
    if not starts_on <= data.ends_on <= limit:
        raise Invalid(
            f"a renewal lasts at most 3 months more (社区矫正法 art. 29): from {starts_on}, "
            f"it ends between {starts_on} and {limit}"
        )
    if (other := _overlapping(session, supervisee_id, starts_on, data.ends_on)) is not None:
        raise Conflict(f"overlaps monitoring period {other.id} ({other.starts_on} to {other.ends_on})")
    fields = data.model_dump() | {"supervisee_id": supervisee_id, "renews_id": period_id, "starts_on": starts_on}
    return _add(session, viewer, MonitoringPeriod(**fields))


def _add(session: Session, viewer: Officer, period: MonitoringPeriod) -> MonitoringPeriod:
    period.approved_by, period.approved_at = viewer.id, utcnow()
    session.add(period)
    session.flush()
    detail = {"supervisee_id": period.supervisee_id, "renews_id": period.renews_id}
    detail |= {"starts_on": str(period.starts_on), "ends_on": str(period.ends_on), "grounds": list(period.grounds)}
    action = "monitoring_period.renew" if period.renews_id else "monitoring_period.create"
    record(session, viewer, action, period.id, detail)
    return period


def release_period(
    *, session: Session, viewer: Officer, supervisee_id: int, period_id: int, data: schemas.MonitoringReleaseIn
) -> list[MonitoringPeriod]:
    """解除: end a period now, with the renewals approved after it; returns the periods released."""
    _approver(viewer)
    _locked_person(session, viewer, supervisee_id)
    period = get_period(session=session, viewer=viewer, supervisee_id=supervisee_id, period_id=period_id)
    now = utcnow()
    if period.released_at is not None or periods.window(period, display_tz())[1] <= now:
        raise Conflict(f"monitoring period {period_id} is already over")
    released, renewal = [period], period
    while (
        renewal := session.scalar(select(MonitoringPeriod).where(MonitoringPeriod.renews_id == renewal.id))
    ) is not None:
        released.append(renewal)
    for row in released:
        row.released_at, row.released_by, row.release_reason = now, viewer.id, data.reason
    session.flush()
    record(session, viewer, "monitoring_period.release", period_id, {"released": [r.id for r in released]})
    return released


def list_ending(*, session: Session, viewer: Officer, within_days: int) -> list[schemas.MonitoringEnding]:
    """The caller's caseload whose monitoring (renewals approved so far included) ends within so many days."""
    now, tz = utcnow(), display_tz()
    people = session.scalars(
        select(Supervisee)
        .where(
            supervisee_scope(session=session, viewer=viewer),
            Supervisee.active,
            select(MonitoringPeriod.id).where(MonitoringPeriod.supervisee_id == Supervisee.id, in_force(now)).exists(),
        )
        .order_by(Supervisee.id)
    ).all()
    ending = []
    for person in people:
        current = periods.current(person.monitoring_periods, now, tz)
        if current is not None and current.days_left <= within_days:
            ending.append(
                schemas.MonitoringEnding(
                    supervisee_id=person.id,
                    code=person.code,
                    full_name=person.full_name,
                    officer_id=person.officer_id,
                    period_id=current.period_id,
                    ends_on=current.ends_on,
                    days_left=current.days_left,
                )
            )
    return sorted(ending, key=lambda e: (e.days_left, e.supervisee_id))


def windows(
    *, session: Session, supervisee_ids: Sequence[int] | None = None
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each person's monitoring windows (UTC, half-open; non-empty ones only), of everyone or of these
    people: when their fixes are taken and judged."""
    query = (
        select(MonitoringPeriod.supervisee_id, _in_force_from(), _in_force_until())
        .join(Supervisee, Supervisee.id == MonitoringPeriod.supervisee_id)
        .where(Supervisee.active, _in_force_from() < _in_force_until())
        .order_by(MonitoringPeriod.supervisee_id, MonitoringPeriod.starts_on)
    )
    if supervisee_ids is not None:
        query = query.where(MonitoringPeriod.supervisee_id.in_(supervisee_ids))
    found: dict[int, list[tuple[datetime, datetime]]] = {}
    for sid, start, end in session.execute(query):
        found.setdefault(sid, []).append((start, end))
    return found


def periods_version(*, session: Session) -> tuple:
    """Changes whenever a period is approved, renewed or released."""
    return tuple(session.execute(select(func.count(), func.max(MonitoringPeriod.updated_at))).one())


def monitored_since(*, session: Session, supervisee_ids: Sequence[int]) -> dict[int, datetime]:
    """id → when the monitoring now in force began (its renewals followed on without a break), for
    those of these people monitored now: a silence is counted from then at the earliest."""
    rows = session.scalars(
        select(MonitoringPeriod)
        .join(Supervisee, Supervisee.id == MonitoringPeriod.supervisee_id)
        .where(MonitoringPeriod.supervisee_id.in_(supervisee_ids), Supervisee.active)
    ).all()
    by_person: dict[int, list[MonitoringPeriod]] = {}
    for row in rows:
        by_person.setdefault(row.supervisee_id, []).append(row)
    now, tz = utcnow(), display_tz()
    since = {}
    for person, chain in by_person.items():
        spans = sorted(periods.window(p, tz) for p in chain)
        current = next((i for i, (start, end) in enumerate(spans) if start <= now < end), None)
        if current is None:
            continue
        first = current
        while first > 0 and spans[first - 1][1] == spans[first][0]:
            first -= 1
        since[person] = spans[first][0]
    return since


def never_reported(*, session: Session, reported: Select, registered_before: datetime) -> dict[int, datetime]:
    """Monitored people none of whose devices ever reported (not among ``reported``, another domain's
    subquery of ids), with when their first active device was registered, if before the given time."""
    registered = func.min(Device.created_at)
    rows = session.execute(
        select(Supervisee.id, registered)
        .join(Device, Device.supervisee_id == Supervisee.id)
        .where(Supervisee.active, Device.active, Supervisee.id.not_in(reported))
        .group_by(Supervisee.id)
        .having(registered < registered_before)
    )
    return {sid: at for sid, at in rows}


def monitored_districts(*, session: Session, supervisee_ids: Sequence[int]) -> dict[int, int]:
    """id → district of those among the given people who are monitored."""
    rows = session.execute(
        select(Supervisee.id, Supervisee.district_id).where(Supervisee.id.in_(supervisee_ids), _monitored())
    )
    return {sid: district_id for sid, district_id in rows}


def monitored_counts(*, session: Session, district_ids: Sequence[int]) -> dict[int, int]:
    """district → how many monitored people it has (in itself, not below)."""
    rows = session.execute(
        select(Supervisee.district_id, func.count())
        .where(Supervisee.district_id.in_(district_ids), _monitored())
        .group_by(Supervisee.district_id)
    )
    return dict(rows.all())


def gateway_territories(*, session: Session) -> dict[int, tuple[int, frozenset[int]]]:
    """Each active gateway → (its district, the districts it may post for: that one and below)."""
    gateways = session.execute(select(Gateway.id, Gateway.district_id).where(Gateway.active)).all()
    return {
        gid: (district_id, frozenset(district_subtree(session=session, district_id=district_id)))
        for gid, district_id in gateways
    }


def command_officer_for(*, session: Session, district_id: int, exclude: int | None = None) -> int | None:
    """The nearest active command officer at or above a district (platform alerts go to them)."""
    path = district_paths(session=session, district_ids=[district_id]).get(district_id, [])
    nearness = {d: n for n, d in enumerate(reversed(path))}
    candidates = session.execute(
        select(Officer.id, Officer.district_id).where(
            Officer.active,
            Officer.role == Role.command,
            Officer.district_id.in_(path),
            Officer.id.is_distinct_from(exclude),
        )
    ).all()
    best = min(candidates, key=lambda c: (nearness[c.district_id], c.id), default=None)
    return best.id if best is not None else None
