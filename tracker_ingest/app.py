"""The device-facing ASGI app (port 5055): authenticates senders and queues their reports."""

import asyncio
import contextlib
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from core import bus
from core.config import get_settings
from core.db import is_unreachable
from core.errors import first_line
from core.logs import configure
from core.web import (
    BodySizeLimit,
    SecurityHeaders,
    beat_forever,
    document_errors,
    install_api_docs,
    install_error_handlers,
    install_health_routes,
)
from tracker_ingest import api, phone_api, service
from tracker_ingest.fastpath import PhoneFastPath

log = configure("ewall.ingest")
UNKNOWN_DEVICE_FLUSH_S = 10.0


async def _flush_unknown_devices(unknown: service.UnknownDevices) -> None:
    failing = False
    while True:
        await asyncio.sleep(UNKNOWN_DEVICE_FLUSH_S)
        try:
            await run_in_threadpool(unknown.flush)
        except Exception as exc:
            # Kept in memory and retried; one line when this starts failing, one when it works again.
            if not failing:
                if is_unreachable(exc):
                    log.warning("unknown devices not recorded (%s); kept for the next try", first_line(exc))
                else:
                    log.exception("could not record unknown devices; kept for the next try")
            failing = True
        else:
            if failing:
                log.info("unknown devices recorded again")
            failing = False


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.publisher = bus.Publisher()
    app.state.funnel = service.FixFunnel(app.state.publisher, linger_s=get_settings().ingest_linger_ms / 1000)
    app.state.directory = service.Directory()
    app.state.unknown_devices = service.UnknownDevices()
    app.state.failed_sign_ins = service.FailedSignIns()
    flusher = asyncio.create_task(_flush_unknown_devices(app.state.unknown_devices))
    heartbeat = asyncio.create_task(beat_forever("ingest"))
    yield
    heartbeat.cancel()
    flusher.cancel()
    with contextlib.suppress(Exception):
        await run_in_threadpool(app.state.unknown_devices.flush)
    app.state.publisher.close()


api_app = FastAPI(
    title="ewall ingest",
    version="0.2.0",
    lifespan=lifespan,
    description="Device-facing ingest: native batch API, OsmAnd/Traccar Client, OwnTracks, CCTV sightings.",
    docs_url=None,
    redoc_url=None,
)
api_app.add_middleware(BodySizeLimit, max_bytes=get_settings().ingest_max_body_bytes)
install_error_handlers(api_app)
install_health_routes(api_app)
install_api_docs(api_app)
api_app.add_middleware(SecurityHeaders)
api_app.include_router(api.router)
api_app.include_router(phone_api.router)
document_errors(
    api_app,
    {
        400: "the request cannot be understood; the reason is given",
        401: "unknown device, gateway or camera, or a wrong token",
        413: "request body over the limit",
        422: "invalid input; the reason is given",
        429: "too many failed sign-ins from this address; retry after Retry-After seconds",
        503: "database or broker unavailable; nothing was stored, retry after Retry-After seconds",
    },
)


app = PhoneFastPath(api_app)
