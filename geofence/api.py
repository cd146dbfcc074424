"""Zone API: GeoJSON in and out; invalid geometry is refused with the reason."""

from fastapi import APIRouter

from caseload.auth import CurrentOfficer
from core.web import SessionDep, StaffPage
from geofence import schemas, service
from geofence.models import ZoneKind

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
