"""The portal's own API: the live streams of alert changes and of positions (server-sent events)."""

from collections.abc import AsyncIterable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from caseload.auth import current_officer, oauth2_scheme, signed_in_officer
from core.db import session_scope
from officer_portal import live, live_positions, rollcall_live
from rollcall import service as rollcall_service

router = APIRouter(tags=["live"])


def stream_viewer(request: Request, bearer: Annotated[str | None, Depends(oauth2_scheme)]) -> int:
    """The caller's officer id, checked as for every API call (a bearer token, or the session cookie
    the pages use, which is what a browser's EventSource sends). The session is closed before the
    stream starts: a stream lasts hours and must not hold a database connection."""
    with session_scope() as session:
        return current_officer(signed_in_officer(request, session, bearer)).id


@router.get("/events/stream", response_class=EventSourceResponse)
async def event_stream(
    request: Request,
    officer_id: Annotated[int, Depends(stream_viewer)],
    since: datetime | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterable[ServerSentEvent]:
    """Alert changes in the caller's caseload, as they happen: ``event: alert`` with an AlertNotice
    as data, and its ``id``. On reconnecting, EventSource sends that id back (Last-Event-ID) and the
    stream first re-sends the alerts changed since (kind ``sync``); ``since`` does the same for a
    first connection. A comment line comes every 15 s when nothing else does."""
    hub: live.LiveHub = request.app.state.live
    async for event in hub.events(officer_id=officer_id, resume_from=live.resume_point(last_event_id, since)):
        yield event


@router.get("/positions/stream", response_class=EventSourceResponse)
async def position_stream(
    request: Request, officer_id: Annotated[int, Depends(stream_viewer)]
) -> AsyncIterable[ServerSentEvent]:
    """Positions of the caller's caseload as they arrive, for the live map: ``ready``, then at most
    one ``positions`` event a second with the latest fix of each person who moved, as columns
    (``id``, ``ts`` in ms since the epoch, ``lat``, ``lon``, ``acc``; WGS-84). Nothing is replayed
    on reconnecting: read ``GET /api/v1/positions/live`` after each ``ready`` instead."""
    hub: live_positions.PositionsHub = request.app.state.positions
    async for event in hub.events(officer_id=officer_id):
        yield event


def roll_call_viewer(roll_call_id: int, request: Request, bearer: Annotated[str | None, Depends(oauth2_scheme)]) -> int:
    """As stream_viewer, and the roll call has someone in the caller's caseload (else 404)."""
    with session_scope() as session:
        viewer = current_officer(signed_in_officer(request, session, bearer))
        rollcall_service.get_roll_call(session, viewer, roll_call_id)
        return viewer.id


@router.get("/rollcalls/{roll_call_id}/stream", response_class=EventSourceResponse)
async def roll_call_stream(
    roll_call_id: int, request: Request, officer_id: Annotated[int, Depends(roll_call_viewer)]
) -> AsyncIterable[ServerSentEvent]:
    """A roll call's answers as they arrive, for its console: ``ready``, then ``answered`` (the
    rollcall.v1 event: target, status, time, position, tracker distance, separated) and ``outcome``
    (late, missed, identity check failed) for the caller's caseload, ``closed`` and ``cancelled``. Nothing is
    replayed: read ``GET /api/v1/rollcalls/{id}/targets`` after each ``ready``."""
    hub: rollcall_live.RollCallHub = request.app.state.rollcalls
    async for event in hub.events(officer_id=officer_id, roll_call_id=roll_call_id):
        yield event
