"""Travel leave (请假外出): a request → a supervisor's approval or refusal, with its record → the leave
zone, in force only in the approved window → the return (销假). Every step is audited. A request that
is not approved makes no zone, so being away is still a violation."""

from collections.abc import Sequence
from datetime import datetime

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import mapping
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer, Supervisee
from core import audit
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.timezones import utcnow
from geofence import schemas, service
from geofence.models import LeaveDecision, TravelLeave, Zone, ZoneKind


def to_out(leave: TravelLeave, zone: Zone | None) -> schemas.LeaveOut:
    return schemas.LeaveOut(
        id=leave.id,
        supervisee_id=leave.supervisee_id,
        destination=mapping(to_shape(leave.destination)),
        destination_name=leave.destination_name,
        starts_at=leave.starts_at,
        ends_at=leave.ends_at,
        reason=leave.reason,
        requested_by=leave.requested_by,
        requested_at=leave.requested_at,
        decision=leave.decision,
        decided_by=leave.decided_by,
        decided_at=leave.decided_at,
        decision_note=leave.decision_note,
        zone_id=leave.zone_id,
        returned_at=zone.returned_at if zone else None,
        returned_by=zone.returned_by if zone else None,
    )


def with_zones(*, session: Session, leaves: Sequence[TravelLeave]) -> list[schemas.LeaveOut]:
    """The leaves as the API shows them, each with its zone's return."""
    ids = [leave.zone_id for leave in leaves if leave.zone_id is not None]
    zones = {z.id: z for z in session.scalars(select(Zone).where(Zone.id.in_(ids)))} if ids else {}
    return [to_out(leave, zones.get(leave.zone_id)) for leave in leaves]


def list_leaves(
    *,
    session: Session,
    viewer: Officer,
    supervisee_id: int | None = None,
    decision: LeaveDecision | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[TravelLeave]:
    """The leaves of the people the viewer may see, newest request first."""
    query = select(TravelLeave).where(
        TravelLeave.supervisee_id.in_(caseload_scope.visible_supervisee_ids(session=session, viewer=viewer))
    )
    if supervisee_id is not None:
        query = query.where(TravelLeave.supervisee_id == supervisee_id)
    if decision is not None:
        query = query.where(TravelLeave.decision == decision)
    return session.scalars(query.order_by(TravelLeave.id.desc()).limit(limit).offset(offset)).all()


def on_leave_at(*, at: datetime) -> ColumnElement:
    """A subquery of the ids of the people on approved travel leave at ``at`` (not yet returned), for
    other domains' filters (a scheduled roll call skips them)."""
    return (
        select(TravelLeave.supervisee_id)
        .join(Zone, Zone.id == TravelLeave.zone_id)
        .where(
            TravelLeave.decision == LeaveDecision.approved,
            TravelLeave.starts_at <= at,
            TravelLeave.ends_at > at,
            or_(Zone.returned_at.is_(None), Zone.returned_at > at),
        )
        .scalar_subquery()
    )


def get(*, session: Session, viewer: Officer, leave_id: int) -> TravelLeave:
    leave = session.get(TravelLeave, leave_id)
    if leave is None:
        raise NotFound(f"travel leave {leave_id} not found")
    # Out of the viewer's caseload: answered as missing, as the rest of the API does.
    try:
        caseload_service.get_supervisee(session=session, viewer=viewer, supervisee_id=leave.supervisee_id)
    except NotFound:
        raise NotFound(f"travel leave {leave_id} not found") from None
    return leave


def request(*, session: Session, requester: Officer | Supervisee, data: schemas.LeaveIn) -> TravelLeave:
    """Ask for leave: by the person's officer, or by the person from their phone page (the caller has
    authenticated them: ``requester`` is then the Supervisee)."""
    destination = service.parse_geometry(data.destination)
    if data.ends_at <= utcnow():
        raise Invalid("the leave would already be over: ends_at must be in the future")
    if isinstance(requester, Officer):
        caseload_service.get_manageable_supervisee(session=session, viewer=requester, supervisee_id=data.supervisee_id)
    elif requester.id != data.supervisee_id:
        raise Forbidden("a supervisee asks for leave for themself only")
    leave = TravelLeave(
        **data.model_dump(exclude={"destination"}),
        destination=from_shape(destination, srid=4326),
        requested_by=requester.id if isinstance(requester, Officer) else None,
    )
    session.add(leave)
    session.flush()
    session.refresh(leave)
    audit.append(
        session,
        actor=caseload_service.actor(requester) if isinstance(requester, Officer) else f"supervisee:{requester.id}",
        action="leave.request",
        entity="leave",
        entity_id=leave.id,
        detail=data.model_dump(mode="json", exclude={"destination"}),
        district_id=requester.district_id,
    )
    return leave


def _pending(session: Session, viewer: Officer, leave_id: int) -> TravelLeave:
    leave = get(session=session, viewer=viewer, leave_id=leave_id)
    if viewer.role not in service.DISTRICT_ZONE_EDITORS:
        raise Forbidden("travel leave is approved or refused by a supervisor, command staff or an admin")
    caseload_service.get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=leave.supervisee_id)
    if leave.decision != LeaveDecision.requested:
        raise Conflict(f"travel leave {leave_id} was already {leave.decision} at {leave.decided_at.isoformat()}")
    if leave.requested_by == viewer.id:
        raise Forbidden("a leave is decided by someone other than who asked for it: another supervisor decides")
    return leave


def approve(*, session: Session, viewer: Officer, leave_id: int, note: str) -> TravelLeave:
    """Approve: the leave zone is made, in force from starts_at to ends_at (or the return)."""
    leave = _pending(session, viewer, leave_id)
    if leave.ends_at <= utcnow():
        raise Invalid("the requested window is already over: refuse it, and ask for a new request")
    zone = Zone(
        name=f"请假外出 {leave.destination_name}"[: Zone.name.type.length],
        kind=ZoneKind.inclusion,
        supervisee_id=leave.supervisee_id,
        geom=leave.destination,
        valid_from=leave.starts_at,
        valid_to=leave.ends_at,
        travel_leave=True,
    )
    session.add(zone)
    session.flush()
    _decide(session, viewer, leave, LeaveDecision.approved, note, zone_id=zone.id)
    return leave


def refuse(*, session: Session, viewer: Officer, leave_id: int, note: str) -> TravelLeave:
    """Refuse, with the reason: no leave zone is made, so being away stays a violation."""
    leave = _pending(session, viewer, leave_id)
    _decide(session, viewer, leave, LeaveDecision.refused, note, zone_id=None)
    return leave


def _decide(
    session: Session, viewer: Officer, leave: TravelLeave, decision: LeaveDecision, note: str, zone_id: int | None
) -> None:
    leave.decision, leave.decided_by, leave.decided_at = decision, viewer.id, utcnow()
    leave.decision_note, leave.zone_id = note or None, zone_id
    session.flush()
    caseload_service.record(
        session, viewer, f"leave.{'approve' if zone_id else 'refuse'}", leave.id, {"note": note, "zone_id": zone_id}
    )


def record_return(*, session: Session, viewer: Officer, leave_id: int) -> TravelLeave:
    """销假: the person is back; the leave zone ends now."""
    leave = get(session=session, viewer=viewer, leave_id=leave_id)
    if leave.zone_id is None:
        raise Conflict(f"travel leave {leave_id} is {leave.decision}, not approved: there is no leave to return from")
    service.record_return(session=session, viewer=viewer, zone_id=leave.zone_id)
    caseload_service.record(session, viewer, "leave.return", leave.id, {"zone_id": leave.zone_id})
    return leave


# The supervisee's own view, from their phone page (#16): the caller has authenticated the person.


def list_own(*, session: Session, supervisee: Supervisee, limit: int) -> list[schemas.LeaveOut]:
    """The person's latest leaves with their decisions and returns, newest request first."""
    query = select(TravelLeave).where(TravelLeave.supervisee_id == supervisee.id)
    leaves = session.scalars(query.order_by(TravelLeave.id.desc()).limit(limit)).all()
    return with_zones(session=session, leaves=leaves)


def report_return(*, session: Session, supervisee: Supervisee, leave_id: int) -> TravelLeave:
    """销假 reported by the person: the leave zone ends now, as when an officer records the return
    (returned_by stays empty: it was the person). Ending a leave early only narrows where they may be."""
    leave = session.get(TravelLeave, leave_id)
    if leave is None or leave.supervisee_id != supervisee.id:
        raise NotFound(f"travel leave {leave_id} not found")
    zone = session.get(Zone, leave.zone_id) if leave.zone_id is not None else None
    if zone is None:
        raise Conflict(f"travel leave {leave_id} is {leave.decision}, not approved: there is no leave to return from")
    if zone.returned_at is not None:
        raise Conflict(f"the return from this leave was already recorded at {zone.returned_at.isoformat()}")
    zone.returned_at = utcnow()
    session.flush()
    audit.append(
        session,
        actor=f"supervisee:{supervisee.id}",
        action="leave.return",
        entity="leave",
        entity_id=leave.id,
        detail={"zone_id": zone.id, "reported_by": "supervisee"},
        district_id=supervisee.district_id,
    )
    return leave
