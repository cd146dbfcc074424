"""Issuing a roll call: the audience (a person, a caseload, a district, a filter) narrowed to what the
issuer may see → one roll_call row and one target per person in a single INSERT … SELECT → after the
caller's commit, delivery: the ``issued`` events on rollcall.v1 (the phone pages and the console learn
of it from them), then the notifier (SMS). This is the one path that must be fast: 100,000 people in
a few seconds, so nothing here goes row by row."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.orm import Session

from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer, Supervisee
from core import bus
from core.errors import Forbidden, Invalid
from core.logs import configure
from core.security import Role
from core.timezones import display_tz, utcnow
from rollcall import notify
from rollcall.config import RollCallSettings, get_rollcall_settings
from rollcall.models import RollCall, RollCallKind, RollCallMode, RollCallTarget, TargetStatus

log = configure("ewall.rollcall.issue")
ISSUERS = frozenset({Role.officer, Role.supervisor, Role.command, Role.admin})
# The contract's limit per ``issued`` event: the phone pages' consumers read a bounded record.
IDS_PER_EVENT = 10_000
OFFICE_DAYS_AHEAD = 366
NOBODY = "no one to call: nobody active you may see matches this audience"


@dataclass(frozen=True)
class Deadlines:
    deadline_min: int
    close_min: int
    deadline_at: datetime
    closes_at: datetime


def minutes(
    *, mode: RollCallMode, deadline_min: int | None, close_min: int | None, settings: RollCallSettings
) -> tuple[int, int]:
    """The deadline and close in minutes: as given, else the mode's defaults (a close never before the deadline)."""
    deadline_min = deadline_min or getattr(settings, f"{mode}_deadline_min")
    close_min = close_min or max(deadline_min, getattr(settings, f"{mode}_close_min"))
    if close_min < deadline_min:
        raise Invalid(f"close_min ({close_min}) must not be less than deadline_min ({deadline_min})")
    return deadline_min, close_min


def deadlines(
    *,
    mode: RollCallMode,
    issued_at: datetime,
    deadline_min: int | None,
    close_min: int | None,
    office_date: date | None,
    settings: RollCallSettings,
) -> Deadlines:
    """When answers stop being on time and stop counting. Office (报到) roll calls count from the start
    of their date in the display time zone (by default both at its end: the next local midnight)."""
    deadline_min, close_min = minutes(mode=mode, deadline_min=deadline_min, close_min=close_min, settings=settings)
    start = issued_at
    if mode == RollCallMode.office:
        if office_date is None:
            raise Invalid("an office (报到) roll call needs office_date")
        today = issued_at.astimezone(display_tz()).date()
        if office_date > today + timedelta(days=OFFICE_DAYS_AHEAD):
            raise Invalid(f"office_date must be at most {OFFICE_DAYS_AHEAD} days ahead")
        start = datetime.combine(max(office_date, today - timedelta(days=1)), time(0), display_tz())
        if office_date < today - timedelta(days=1) or start + timedelta(minutes=close_min) <= issued_at:
            raise Invalid(f"office_date {office_date} is over: choose today or a later day")
    return Deadlines(
        deadline_min, close_min, start + timedelta(minutes=deadline_min), start + timedelta(minutes=close_min)
    )


def _audience_clauses(session: Session, issuer: Officer | None, audience: dict) -> list[ColumnElement[bool]]:
    """WHERE clauses on Supervisee for the audience (one of its four forms), within the issuer's scope."""
    clauses: list[ColumnElement[bool]] = [Supervisee.active.is_(true())]
    if issuer is not None:
        clauses.append(caseload_scope.supervisee_scope(session=session, viewer=issuer))
    found = audience.get("filter") or {}
    if ids := audience.get("supervisee_ids"):
        clauses.append(Supervisee.id.in_(sorted(set(ids))))
    officer_id = audience.get("officer_id") or found.get("officer_id")
    if officer_id is not None:
        clauses.append(Supervisee.officer_id == officer_id)
    district_id = audience.get("district_id") or found.get("district_id")
    if district_id is not None:
        if issuer is not None:  # a district out of sight is answered as missing, as everywhere
            caseload_scope.require_district_visible(session, issuer, district_id)
        clauses.append(
            Supervisee.district_id.in_(caseload_scope.district_subtree(session=session, district_id=district_id))
        )
    if found.get("risk_level"):
        clauses.append(Supervisee.risk_level == found["risk_level"])
    if found.get("category"):
        clauses.append(Supervisee.category == found["category"])
    return clauses


def issue(
    *,
    session: Session,
    issuer: Officer | None,
    mode: RollCallMode,
    audience: dict,
    deadline_min: int | None = None,
    close_min: int | None = None,
    office_date: date | None = None,
    message: str | None = None,
    kind: RollCallKind = RollCallKind.ad_hoc,
    rule_id: int | None = None,
    excluding: Sequence[ColumnElement] = (),
) -> RollCall:
    """Write a roll call and its targets (flushed, not committed). ``issuer`` None is a rule's call,
    unscoped; ``excluding`` are subqueries of supervisee ids not to call (on leave, suspended).
    Raises Invalid "no one to call" when the audience is empty. After the commit, call ``deliver``."""
    if issuer is not None and issuer.role not in ISSUERS:
        raise Forbidden(f"a {issuer.role} may not issue roll calls; officers, supervisors and command staff may")
    issued_at = utcnow()
    due = deadlines(
        mode=mode,
        issued_at=issued_at,
        deadline_min=deadline_min,
        close_min=close_min,
        office_date=office_date,
        settings=get_rollcall_settings(),
    )
    clauses = _audience_clauses(session, issuer, audience)
    clauses += [Supervisee.id.not_in(ids) for ids in excluding]
    found = audience.get("filter") or {}
    roll_call = RollCall(
        kind=kind,
        mode=mode,
        district_id=audience.get("district_id") or found.get("district_id"),
        issued_by=issuer.id if issuer else None,
        rule_id=rule_id,
        audience=audience,
        message=message,
        issued_at=issued_at,
        deadline_min=due.deadline_min,
        close_min=due.close_min,
        office_date=office_date,
    )
    session.add(roll_call)
    session.flush()
    people = select(literal(roll_call.id), Supervisee.id, literal(due.deadline_at), literal(due.closes_at)).where(
        *clauses
    )
    columns = ["roll_call_id", "supervisee_id", "deadline_at", "closes_at"]
    # Counted in the database: no row travels back (an INSERT … SELECT's rowcount reads -1 here).
    inserted = insert(RollCallTarget).from_select(columns, people).returning(RollCallTarget.id).cte("inserted")
    written = session.scalar(select(func.count()).select_from(inserted))
    if not written:
        raise Invalid(NOBODY)
    roll_call.target_count = written
    session.flush()
    if issuer is not None:
        detail = {"mode": str(mode), "audience": audience, "target_count": written}
        caseload_service.record(session, issuer, "roll_call.issue", roll_call.id, detail)
    return roll_call


def deadline_of(roll_call: RollCall) -> Deadlines:
    """A written roll call's deadlines (every target of it has the same)."""
    start = roll_call.issued_at
    if roll_call.mode == RollCallMode.office:
        start = datetime.combine(roll_call.office_date, time(0), display_tz())
    return Deadlines(
        roll_call.deadline_min,
        roll_call.close_min,
        start + timedelta(minutes=roll_call.deadline_min),
        start + timedelta(minutes=roll_call.close_min),
    )


def issued_events(roll_call: RollCall, supervisee_ids: Sequence[int]) -> list[bus.Record]:
    """The ``issued`` events of a roll call: its people in chunks of IDS_PER_EVENT."""
    head = {
        "kind": "issued",
        "roll_call_id": roll_call.id,
        "mode": str(roll_call.mode),
        "deadline_at": deadline_of(roll_call).deadline_at.isoformat(),
    }
    return [
        ("rollcall", bus.encode(head | {"supervisee_ids": list(supervisee_ids[i : i + IDS_PER_EVENT])}))
        for i in range(0, len(supervisee_ids), IDS_PER_EVENT)
    ]


def publish_issued(publisher: bus.Publisher, roll_call: RollCall, supervisee_ids: Sequence[int]) -> None:
    """Announce a committed roll call on rollcall.v1 (blocks for the broker's acknowledgement)."""
    publisher.publish(bus.ROLLCALL, issued_events(roll_call, supervisee_ids))


def deliver(
    *, session: Session, publisher: bus.Publisher, roll_call: RollCall, notifier: notify.Notifier | None = None
) -> int:
    """After the roll call's commit: publish its undelivered pending targets, hand them to the notifier,
    then stamp ``delivered_at`` and ``notified_at`` in one UPDATE and commit. Returns how many were
    delivered. A broker outage raises (bus.BrokerUnavailable) with nothing stamped, for the worker's
    redelivery round; a process dying before the stamp delivers again (at least once)."""
    # Two arrays in one row: 100,000 rows as Python objects cost more than the query.
    ordered = RollCallTarget.supervisee_id
    ids, phones = session.execute(
        select(
            func.array_agg(aggregate_order_by(ordered, ordered)),
            func.array_agg(aggregate_order_by(Supervisee.phone, ordered)),
        )
        .select_from(RollCallTarget)
        .join(Supervisee, Supervisee.id == RollCallTarget.supervisee_id)
        .where(
            RollCallTarget.roll_call_id == roll_call.id,
            RollCallTarget.status == TargetStatus.pending,
            RollCallTarget.delivered_at.is_(None),
        )
    ).one()
    if not ids:
        return 0
    publish_issued(publisher, roll_call, ids)
    delivered_at = utcnow()
    notifier = notifier or notify.notifier_from(get_rollcall_settings().notifier)
    notified_at = None
    try:
        notifier.notify(notify.NoticeBatch(roll_call.id, deadline_of(roll_call).deadline_at, ids, phones))
        notified_at = utcnow()
    except Exception:
        log.exception("roll call %d: the notifier failed; the phone pages have it all the same", roll_call.id)
    session.execute(
        update(RollCallTarget)
        .where(RollCallTarget.roll_call_id == roll_call.id, RollCallTarget.delivered_at.is_(None))
        .values(delivered_at=delivered_at, notified_at=notified_at)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return len(ids)


def undelivered(*, session: Session, older_than: datetime) -> list[RollCall]:
    """Open roll calls issued before ``older_than`` with pending targets never delivered (the broker was
    down when they were issued, or the issuing process died after its commit)."""
    stuck = (
        select(RollCallTarget.roll_call_id)
        .where(
            RollCallTarget.status == TargetStatus.pending,
            RollCallTarget.delivered_at.is_(None),
            RollCallTarget.closes_at > func.now(),
        )
        .distinct()
    )
    return list(
        session.scalars(
            select(RollCall).where(RollCall.id.in_(stuck), RollCall.issued_at < older_than).order_by(RollCall.id)
        )
    )
