"""The device-facing ASGI app (port 5055): authenticates devices and queues their positions."""

from contextlib import asynccontextmanager

from fastapi import FastAPI

from core import bus
from core.web import install_error_handlers
from tracker_ingest import api, service


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.publisher = bus.Publisher()
    app.state.devices = service.device_cache()
    yield
    app.state.publisher.close()


app = FastAPI(
    title="ewall ingest",
    version="0.1.0",
    lifespan=lifespan,
    description="Device-facing position ingest: native batch API (OsmAnd, OwnTracks and CCTV come next).",
)
install_error_handlers(app)
app.include_router(api.router)


@app.get("/health", tags=["ops"])
def health() -> dict:
    """Liveness for the process supervisor."""
    return {"status": "ok"}
