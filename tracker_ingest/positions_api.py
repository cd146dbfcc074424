"""Staff-facing positions API (mounted by the portal): live positions, tracks and unknown devices."""

import orjson
from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from caseload import scope as caseload_scope
from caseload.auth import CurrentOfficer, StaffManager
from caseload.models import Officer
from core.timezones import utcnow
from core.web import SessionDep, StaffPage, paged
from tracker_ingest import positions, tracks
from tracker_ingest.schemas import TrackFrom, TrackRange, TrackRangeQuery, TrackTo

router = APIRouter(tags=["positions"])
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
    supervisee_id: int, session: SessionDep, viewer: CurrentOfficer, from_: TrackFrom = None, to: TrackTo = None
) -> dict:
    """A GeoJSON FeatureCollection of one supervisee's fixes (default: the last 24 hours)."""
    read = tracks.read(session, viewer=viewer, supervisee_id=supervisee_id, since=from_, until=to, via="api")
    session.commit()
    return {"type": "FeatureCollection", "features": tracks.point_features(read.fixes)}


def _exported(session: Session, viewer: Officer, supervisee_id: int, asked: TrackRange, via: str) -> tracks.Track:
    read = tracks.read(
        session, viewer=viewer, supervisee_id=supervisee_id, since=asked.since, until=asked.until, via=via
    )
    read.complete()  # refused before the commit: a file cut short is not read
    session.commit()
    return read


def _download(read: tracks.Track, suffix: str, body: bytes, media_type: str) -> Response:
    name = f"track-{read.person.code}-{read.since:%Y%m%dT%H%MZ}-{read.until:%Y%m%dT%H%MZ}.{suffix}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/supervisees/{supervisee_id}/track.gpx", responses={200: {"content": {"application/gpx+xml": {}}}})
def track_gpx(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer, asked: TrackRangeQuery) -> Response:
    """The track as a GPX 1.1 file, one segment per stretch without a gap (the read is audited)."""
    read = _exported(session, viewer, supervisee_id, asked, "gpx")
    document = tracks.gpx(read, gap_min=asked.gap_min, generated_at=utcnow())
    return _download(read, "gpx", document, "application/gpx+xml")


@router.get("/supervisees/{supervisee_id}/track.geojson", responses={200: {"content": {"application/geo+json": {}}}})
def track_geojson(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer, asked: TrackRangeQuery) -> Response:
    """The track as a GeoJSON file: every fix as a Point, each stretch without a gap as a LineString
    (the read is audited)."""
    read = _exported(session, viewer, supervisee_id, asked, "geojson")
    document = tracks.geojson(read, gap_min=asked.gap_min, generated_at=utcnow())
    return _download(read, "geojson", orjson.dumps(document), "application/geo+json")


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
