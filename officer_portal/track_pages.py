"""Trajectory replay and the track's printable map document (the GPX and GeoJSON files come from the
track API). Both read through tracker_ingest.tracks, which scopes and audits every read as the API does."""

import html
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from core.errors import Invalid, NotFound
from core.timezones import display_tz, utcnow
from core.web import SessionDep, with_nonce
from officer_portal import track_report
from officer_portal.rendering import PageOfficer, elsewhere, templates
from tracker_ingest import tracks
from tracker_ingest.schemas import TrackRangeQuery

router = APIRouter(include_in_schema=False)


def _local_input(ts: datetime) -> str:
    """A UTC time as a datetime-local input's value in the display time zone."""
    return ts.astimezone(display_tz()).strftime("%Y-%m-%dT%H:%M")


@router.get("/supervisees/{supervisee_id}/track", response_class=HTMLResponse)
def replay_page(
    request: Request,
    supervisee_id: int,
    session: SessionDep,
    officer: PageOfficer,
    asked: TrackRangeQuery,
) -> Response:
    if redirect := elsewhere(officer):
        return redirect
    context = {"officer": officer, "gap_min": asked.gap_min, "error": None, "replay": None}
    try:
        read = tracks.read(
            session, viewer=officer, supervisee_id=supervisee_id, since=asked.since, until=asked.until, via="page"
        )
    except NotFound as exc:
        return templates.TemplateResponse(request, "track_missing.html", {**context, "message": exc.message}, 404)
    except Invalid as exc:
        # A range the API refuses: the page stays, with the reason and the picker to fix it.
        session.rollback()
        until = asked.until or utcnow()
        context.update(
            error=exc.message, since=asked.since or until, until=until, person=None, supervisee_id=supervisee_id
        )
        return templates.TemplateResponse(request, "track_replay.html", _range_context(context), 422)
    session.commit()
    context.update(
        person=read.person,
        supervisee_id=supervisee_id,
        since=read.since,
        until=read.until,
        replay=tracks.replay(read, gap_min=asked.gap_min),
    )
    return templates.TemplateResponse(request, "track_replay.html", _range_context(context))


def _range_context(context: dict) -> dict:
    since, until = context["since"], context["until"]
    query = f"from={since.isoformat()}&to={until.isoformat()}&gap_min={context['gap_min']:g}".replace("+", "%2B")
    return {
        **context,
        "from_local": _local_input(since),
        "to_local": _local_input(until),
        "query": query,
        "tz": display_tz().key,
    }


@router.get("/supervisees/{supervisee_id}/track/report", response_class=HTMLResponse)
def report_page(
    request: Request,
    supervisee_id: int,
    session: SessionDep,
    officer: PageOfficer,
    asked: TrackRangeQuery,
) -> Response:
    if redirect := elsewhere(officer):
        return redirect
    try:
        read = tracks.read(
            session, viewer=officer, supervisee_id=supervisee_id, since=asked.since, until=asked.until, via="report"
        )
    except (NotFound, Invalid) as exc:
        reason = html.escape(exc.message)
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><p>{reason}</p>", status_code=exc.status_code)
    session.commit()
    document = track_report.render(read, gap_min=asked.gap_min, viewer=officer, generated_at=utcnow())
    return HTMLResponse(with_nonce(request, document))
