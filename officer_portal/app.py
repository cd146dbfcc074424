"""The staff-facing ASGI app (port 8000): REST API under /api/v1, HTML pages, OpenAPI at /docs."""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from alerts import api as alerts_api
from caseload import api as caseload_api
from caseload import sources_api
from core.web import install_error_handlers
from geofence import api as geofence_api
from officer_portal import pages
from tracker_ingest import portal_api as positions_api

app = FastAPI(
    title="ewall officer portal",
    version="0.1.0",
    description="社区矫正电子监管: caseload, zones (电子墙), live positions and the alert queue.",
)
install_error_handlers(app)

api = APIRouter(prefix="/api/v1")
for router in (caseload_api.router, sources_api.router, geofence_api.router, alerts_api.router, positions_api.router):
    api.include_router(router)
app.include_router(api)
app.include_router(pages.router)
app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")


@app.get("/health", tags=["ops"])
def health() -> dict:
    """Liveness for the process supervisor."""
    return {"status": "ok"}
