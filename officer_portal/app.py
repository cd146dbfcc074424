"""The staff-facing ASGI app (port 8000): REST API under /api/v1, HTML pages, OpenAPI at /docs."""

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

from alerts import api as alerts_api
from caseload import api as caseload_api
from caseload import monitoring_api, phone_page_api, sources_api
from core import bus
from core.config import get_settings
from core.web import (
    BodySizeLimit,
    SecurityHeaders,
    beat_forever,
    document_errors,
    install_api_docs,
    install_error_handlers,
    install_health_routes,
)
from geofence import api as geofence_api
from officer_portal import (
    admin_api,
    admin_pages,
    alert_pages,
    audit_api,
    audit_pages,
    command_pages,
    live,
    live_positions,
    maps,
    pages,
    phone_api,
    phone_pages,
    phone_stream,
    supervisee_pages,
    track_pages,
    zone_pages,
)
from officer_portal import api as portal_api
from rollcall import answer_api, phone_answer_api
from rollcall import api as rollcall_api
from tracker_ingest import positions_api, sightings_api
from tracker_ingest.service import FixFunnel


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.publisher = bus.Publisher()
    app.state.live = live.LiveHub()
    app.state.positions = live_positions.PositionsHub()
    app.state.phone_hub = phone_stream.PhoneHub()
    # Phone pages' positions go out on fixes.v1 as ingest's do, coalesced the same way.
    app.state.phone_fixes = FixFunnel(app.state.publisher, linger_s=get_settings().ingest_linger_ms / 1000)
    await app.state.live.start()
    await app.state.positions.start()
    await app.state.phone_hub.start()
    heartbeat = asyncio.create_task(beat_forever("portal"))
    yield
    heartbeat.cancel()
    await app.state.live.stop()
    await app.state.positions.stop()
    await app.state.phone_hub.stop()
    await run_in_threadpool(app.state.publisher.close)


app = FastAPI(
    title="ewall officer portal",
    version="0.1.0",
    lifespan=lifespan,
    description="社区矫正电子监管: caseload, zones (电子墙), live positions and the alert queue.",
    docs_url=None,
    redoc_url=None,
)
app.add_middleware(BodySizeLimit, max_bytes=get_settings().portal_max_body_bytes)
install_error_handlers(app)
install_health_routes(app)
install_api_docs(app)
app.add_middleware(SecurityHeaders, img_sources=maps.tile_sources())
# Outermost: phone answers arrive by the thousand and need none of the layers inside.
app.add_middleware(phone_answer_api.PhoneAnswerFastPath)

api = APIRouter(prefix="/api/v1")
for router in (
    caseload_api.router,
    sources_api.router,
    monitoring_api.router,
    geofence_api.router,
    positions_api.router,
    sightings_api.router,
    portal_api.router,
    admin_api.router,
    audit_api.router,
    alerts_api.router,
    phone_page_api.router,
    phone_api.router,
    rollcall_api.router,
    answer_api.router,
    phone_answer_api.router,
):
    api.include_router(router)
app.include_router(api)
for pages_router in (
    pages.router,
    alert_pages.router,
    supervisee_pages.router,
    track_pages.router,
    zone_pages.router,
    admin_pages.router,
    command_pages.router,
    audit_pages.router,
    phone_pages.router,
):
    app.include_router(pages_router)
document_errors(
    app,
    {
        400: "the request cannot be understood (a body that is not UTF-8 JSON, say)",
        401: "not signed in, or the sign-in has expired: sign in again",
        403: "the caller's role may not do this",
        404: "no such record in the caller's districts",
        409: "conflicts with existing data; the reason is given",
        413: "request body over the limit",
        422: "invalid input; the reason is given for each field",
    },
)
app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
