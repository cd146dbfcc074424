"""HTML pages: sign-in and the live caseload dashboard (map + open alerts)."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from alerts import service as alerts_service
from alerts.models import AlertStatus
from caseload import monitoring as caseload_monitoring
from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.auth import SESSION_COOKIE, current_officer
from caseload.models import Officer
from core.config import get_settings
from core.security import create_access_token
from core.timezones import to_display, utcnow
from core.web import SessionDep
from core.wire import AlertLevel
from geofence import service as geofence_service
from officer_portal import maps
from tracker_ingest import positions

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["local"] = to_display
LEVEL_BADGES = {AlertLevel.red: "红 red", AlertLevel.yellow: "黄 yellow"}


def signed_in_officer(request: Request, session: SessionDep) -> Officer | None:
    try:
        return current_officer(request, session, None)
    except HTTPException:  # not signed in: the page redirects; any other failure is a real error
        return None


PageOfficer = Annotated[Officer | None, Depends(signed_in_officer)]


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request):
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/login")
def login(
    request: Request, session: SessionDep, username: Annotated[str, Form()], password: Annotated[str, Form()]
) -> Response:
    officer = caseload_service.authenticate(session=session, username=username, password=password)
    if officer is None:
        return templates.TemplateResponse(
            request, "login.html", {"error": "用户名或密码错误 wrong username or password"}, status_code=401
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        create_access_token(officer_id=officer.id, role=officer.role),
        max_age=get_settings().access_token_ttl_min * 60,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/logout")
def logout() -> Response:
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if officer is None:
        return _to_login()
    rendered_at = utcnow()
    caseload = caseload_service.list_supervisees(session=session, viewer=officer, active=True, limit=5000)
    alerts = [
        a
        for a in alerts_service.list_alerts(session=session, viewer=officer, limit=500)
        if a.status != AlertStatus.resolved
    ]
    names = caseload_service.supervisee_names(session=session, supervisee_ids=[a.supervisee_id for a in alerts])
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "officer": officer,
            "caseload_count": len(caseload),
            "alerts": alerts,
            "names": names,
            "red_count": sum(a.level == "red" for a in alerts),
            "yellow_count": sum(a.level == "yellow" for a in alerts),
            # A reminder, not an alert: a deadline for the officer, not a violation by the person.
            "ending": caseload_monitoring.list_ending(
                session=session, viewer=officer, within_days=get_settings().monitoring_reminder_days
            ),
            "level_badges": LEVEL_BADGES,
            # The page follows the live stream from the moment it was rendered (static/live.js).
            "live": {"since": rendered_at.isoformat(), "tz": get_settings().display_tz, "levels": LEVEL_BADGES},
        },
    )


@router.get("/map", response_class=HTMLResponse)
def live_map(session: SessionDep, officer: PageOfficer) -> Response:
    if officer is None:
        return _to_login()
    visible = caseload_scope.visible_supervisee_ids(session=session, viewer=officer)
    live = positions.live_positions(session, supervisee_ids=visible)
    ids = [p.supervisee_id for p in live]
    names = caseload_service.supervisee_names(session=session, supervisee_ids=ids)
    levels = alerts_service.open_level_by_supervisee(session=session, supervisee_ids=ids)
    people = [
        maps.MapPerson(
            p.supervisee_id,
            *names.get(p.supervisee_id, ("?", "?")),
            p.lat,
            p.lon,
            p.accuracy_m,
            p.ts,
            levels.get(p.supervisee_id),
        )
        for p in live
    ]
    zones = [
        (z.name, geofence_service.to_out(z).geometry)
        for z in geofence_service.list_zones(session=session, viewer=officer)
    ]
    return HTMLResponse(maps.live_map(people, zones))
