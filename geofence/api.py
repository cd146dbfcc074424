"""Zone API: GeoJSON in and out; invalid geometry is refused with the reason."""

from fastapi import APIRouter

from caseload.auth import CurrentOfficer
from core.web import SessionDep, StaffPage
from geofence import leave, schemas, service
from geofence.models import LeaveDecision, ZoneKind

router = APIRouter(tags=["zones"])


@router.get("/zones", response_model=list[schemas.ZoneOut])
def list_zones(
    session: SessionDep,
    viewer: CurrentOfficer,
    page: StaffPage,
    supervisee_id: int | None = None,
    kind: ZoneKind | None = None,
    active: bool | None = True,
):
    """Zones of the caller's caseload and districts."""
    zones = service.list_zones(
        session=session,
        viewer=viewer,
        supervisee_id=supervisee_id,
        kind=kind,
        active=active,
        limit=page.limit,
        offset=page.offset,
    )
    return [service.to_out(z) for z in zones]


@router.post("/zones", response_model=schemas.ZoneOut, status_code=201)
def create_zone(data: schemas.ZoneIn, session: SessionDep, viewer: CurrentOfficer):
    """Create a zone for a supervisee or a whole district."""
    zone = service.create(session=session, viewer=viewer, data=data)
    session.commit()
    return service.to_out(zone)


@router.get("/zones/{zone_id}", response_model=schemas.ZoneOut)
def get_zone(zone_id: int, session: SessionDep, viewer: CurrentOfficer):
    """One zone."""
    return service.to_out(service.get(session=session, viewer=viewer, zone_id=zone_id))


@router.patch("/zones/{zone_id}", response_model=schemas.ZoneOut)
def update_zone(zone_id: int, data: schemas.ZoneUpdate, session: SessionDep, viewer: CurrentOfficer):
    """Change a zone; the geofence engine picks it up within seconds."""
    zone = service.update(session=session, viewer=viewer, zone_id=zone_id, data=data)
    session.commit()
    return service.to_out(zone)


@router.post("/zones/{zone_id}/return", response_model=schemas.ZoneOut)
def record_return(zone_id: int, session: SessionDep, viewer: CurrentOfficer):
    """销假: record the return from a travel leave, which ends it now."""
    zone = service.record_return(session=session, viewer=viewer, zone_id=zone_id)
    session.commit()
    return service.to_out(zone)


@router.delete("/zones/{zone_id}", status_code=204)
def delete_zone(zone_id: int, session: SessionDep, viewer: CurrentOfficer):
    """Deactivate a zone (kept for the history of its alerts)."""
    service.delete(session=session, viewer=viewer, zone_id=zone_id)
    session.commit()


@router.get("/leaves", response_model=list[schemas.LeaveOut], tags=["travel leave"])
def list_leaves(
    session: SessionDep,
    viewer: CurrentOfficer,
    page: StaffPage,
    supervisee_id: int | None = None,
    decision: LeaveDecision | None = None,
):
    """请假外出: the travel leave requests of the caller's caseload, newest first."""
    leaves = leave.list_leaves(
        session=session,
        viewer=viewer,
        supervisee_id=supervisee_id,
        decision=decision,
        limit=page.limit,
        offset=page.offset,
    )
    return leave.with_zones(session=session, leaves=leaves)


@router.post("/leaves", response_model=schemas.LeaveOut, status_code=201, tags=["travel leave"])
def request_leave(data: schemas.LeaveIn, session: SessionDep, viewer: CurrentOfficer):
    """Ask for travel leave for a supervisee; it makes no leave zone until a supervisor approves it."""
    asked = leave.request(session=session, requester=viewer, data=data)
    session.commit()
    return leave.to_out(asked, None)


@router.get("/leaves/{leave_id}", response_model=schemas.LeaveOut, tags=["travel leave"])
def get_leave(leave_id: int, session: SessionDep, viewer: CurrentOfficer):
    """One travel leave with its decision and return."""
    return leave.with_zones(session=session, leaves=[leave.get(session=session, viewer=viewer, leave_id=leave_id)])[0]


@router.post("/leaves/{leave_id}/approve", response_model=schemas.LeaveOut, tags=["travel leave"])
def approve_leave(leave_id: int, data: schemas.LeaveDecisionIn, session: SessionDep, viewer: CurrentOfficer):
    """Approve (supervisor, command or admin, not the one who asked): the leave zone is in force in its window."""
    approved = leave.approve(session=session, viewer=viewer, leave_id=leave_id, note=data.note)
    session.commit()
    return leave.with_zones(session=session, leaves=[approved])[0]


@router.post("/leaves/{leave_id}/refuse", response_model=schemas.LeaveOut, tags=["travel leave"])
def refuse_leave(leave_id: int, data: schemas.LeaveRefusalIn, session: SessionDep, viewer: CurrentOfficer):
    """Refuse, with the reason (supervisor, command or admin): no leave zone is made."""
    refused = leave.refuse(session=session, viewer=viewer, leave_id=leave_id, note=data.note)
    session.commit()
    return leave.to_out(refused, None)


@router.post("/leaves/{leave_id}/return", response_model=schemas.LeaveOut, tags=["travel leave"])
def record_leave_return(leave_id: int, session: SessionDep, viewer: CurrentOfficer):
    """销假: the person is back; the leave zone ends now."""
    returned = leave.record_return(session=session, viewer=viewer, leave_id=leave_id)
    session.commit()
    return leave.with_zones(session=session, leaves=[returned])[0]
