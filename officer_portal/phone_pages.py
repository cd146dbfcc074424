"""The supervisee's phone page (#16): ``/m/``, a mobile-first shell whose script signs in with the
link's code and then shows the home from ``/api/v1/phone/home``; the PWA manifest and the service
worker, which caches the shell only (never what the API answers, which is personal and live)."""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from core.config import get_settings
from officer_portal.rendering import templates

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static" / "m"


@router.get("/m/", response_class=HTMLResponse)
def phone_page(request: Request) -> HTMLResponse:
    """The page itself: the sign-in screen or the home (no personal data is in the HTML)."""
    config = {"position_interval_s": get_settings().phone_position_interval_s, "display_tz": get_settings().display_tz}
    return templates.TemplateResponse(request, "m_page.html", {"config": config})


@router.get("/m/manifest.webmanifest")
def manifest() -> FileResponse:
    return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json")


@router.get("/m/sw.js")
def service_worker() -> FileResponse:
    # Served from /m/ so that its scope is the phone page; never cached by the browser's HTTP cache,
    # so a new shell reaches phones on their next visit.
    return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})
