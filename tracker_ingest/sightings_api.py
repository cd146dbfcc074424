"""Staff-facing read of camera sightings and office check-ins (mounted by the portal)."""

from fastapi import APIRouter

from caseload.auth import CurrentOfficer
from core.web import SessionDep, paged
from tracker_ingest import sightings
from tracker_ingest.schemas import SightingOut

router = APIRouter(tags=["positions"])
SightingPage = paged(default=50, maximum=1000)


@router.get("/supervisees/{supervisee_id}/sightings", response_model=list[SightingOut])
def list_sightings(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer, page: SightingPage):
    """A supervisee's camera sightings and office check-ins (报到), newest first, a page at a time
    (each read is audited)."""
    found = sightings.read_sightings(
        session, viewer=viewer, supervisee_id=supervisee_id, limit=page.limit, offset=page.offset
    )
    session.commit()
    return found
