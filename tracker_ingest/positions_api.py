"""Staff-facing positions API (mounted by the portal): live positions, tracks and unknown devices."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.auth import CurrentOfficer, StaffManager
from core.errors import Invalid
from core.timezones import Moment, utcnow
from core.web import SessionDep, StaffPage, paged
from tracker_ingest import positions

router = APIRouter(tags=["positions"])
MAX_TRACK_SPAN = timedelta(days=31)
# The live map pages through a whole province's caseload (10,000 people) in one or two requests.
LivePage = paged(default=10_000, maximum=10_000)


@router.get("/positions/live")
def live_positions(session: SessionDep, viewer: CurrentOfficer, page: LivePage) -> list[dict]:
    """Last known position of everyone in the caller's caseload, a page at a time (each read is audited)."""
    rows = positions.read_live_positions(session, viewer=viewer, via="api", limit=page.limit, offset=page.offset)
    session.commit()
    return [
        {
            "supervisee_id": p.supervisee_id,
            "device_id": p.device_id,
            "ts": p.ts,
            "lat": p.lat,
            "lon": p.lon,
            "accuracy_m": p.accuracy_m,
            "speed_mps": p.speed_mps,
            "battery_pct": p.battery_pct,
            "source": p.source,
        }
        for p in rows
    ]


@router.get("/supervisees/{supervisee_id}/track")
def track(
    supervisee_id: int,
    session: SessionDep,
    viewer: CurrentOfficer,
    from_: Annotated[Moment | None, Query(alias="from")] = None,
    to: Annotated[Moment | None, Query()] = None,
) -> dict:
    """A GeoJSON FeatureCollection of one supervisee's fixes (default: the last 24 hours)."""
    person = caseload_service.get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    until = to or utcnow()
    since = from_ or until - timedelta(days=1)
    if since >= until:
        raise Invalid("'from' must be before 'to'")
    if until - since > MAX_TRACK_SPAN:
        raise Invalid(f"at most {MAX_TRACK_SPAN.days} days per request; page through longer periods")
    fixes = positions.track(session, supervisee_id=supervisee_id, since=since, until=until)
    caseload_service.record(
        session,
        viewer,
        "supervisee.track_read",
        supervisee_id,
        {"from": since.isoformat(), "to": until.isoformat(), "fixes": len(fixes)},
        district_id=person.district_id,
    )
    session.commit()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
                "properties": {
                    "ts": f.ts.isoformat(),
                    "accuracy_m": f.accuracy_m,
                    "speed_mps": f.speed_mps,
                    "source": f.source,
                    "device_id": f.device_id,
                },
            }
            for f in fixes
        ],
    }


@router.get("/devices/unknown")
def unknown_devices(session: SessionDep, viewer: StaffManager, page: StaffPage) -> list[dict]:
    """Devices that tried to report but are not registered, most recent first. They reported to no
    gateway and named nobody, so they belong to no district: only admins and command staff of a root
    district see them. Generated keys show only their hint."""
    if not caseload_scope.sees_whole_platform(session=session, viewer=viewer):
        return []
    return [
        {
            "protocol": d.protocol,
            "device_key": d.device_key,
            "first_seen_at": d.first_seen_at,
            "last_seen_at": d.last_seen_at,
            "attempts": d.attempts,
            "last_remote_addr": d.last_remote_addr,
        }
        for d in positions.list_unknown_devices(session, limit=page.limit, offset=page.offset)
    ]
