"""HTML pages: sign-in, password change, sign-out and the live caseload map with the open alerts beside it."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from caseload import accounts
from caseload import monitoring as caseload_monitoring
from caseload import schemas as caseload_schemas
from caseload.auth import (
    SESSION_COOKIE,
    check_same_origin,
    cookie_is_secure,
    csrf_guard,
    sign_in_or_refuse,
    source_of,
)
from caseload.models import Officer
from core.config import get_settings
from core.errors import DomainError
from core.security import create_access_token
from core.timezones import utcnow
from core.web import SessionDep
from officer_portal import caseload_map
from officer_portal.rendering import (
    CATEGORY_LABELS,
    LEVEL_BADGES,
    RISK_LABELS,
    PageOfficer,
    elsewhere,
    templates,
    to_login,
)

router = APIRouter(include_in_schema=False)


def _start_session(request: Request, officer: Officer) -> Response:
    response = RedirectResponse("/password" if officer.must_change_password else "/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        create_access_token(officer_id=officer.id, role=officer.role, session_version=officer.session_version),
        max_age=get_settings().access_token_ttl_min * 60,
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(request),
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request):
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/login")
def login(
    request: Request, session: SessionDep, username: Annotated[str, Form()], password: Annotated[str, Form()]
) -> Response:
    check_same_origin(request)
    try:
        officer = sign_in_or_refuse(session, request, username, password)
    except HTTPException as exc:
        error = "用户名或密码错误 wrong username or password"
        if exc.status_code == 429:
            error = f"登录失败次数过多 {exc.detail}"
        return templates.TemplateResponse(
            request, "login.html", {"error": error}, status_code=exc.status_code, headers=exc.headers
        )
    return _start_session(request, officer)


@router.get("/password", response_class=HTMLResponse)
def password_form(request: Request, officer: PageOfficer) -> Response:
    if officer is None:
        return to_login()
    return templates.TemplateResponse(request, "password.html", {"officer": officer, "error": None})


@router.post("/password", dependencies=[Depends(csrf_guard)])
def change_password(
    request: Request,
    session: SessionDep,
    officer: PageOfficer,
    current_password: Annotated[str, Form()],
    new_password: Annotated[str, Form()],
) -> Response:
    if officer is None:
        return to_login()
    try:
        data = caseload_schemas.PasswordChange(current_password=current_password, new_password=new_password)
        accounts.change_password(
            session=session,
            officer=officer,
            current_password=data.current_password,
            new_password=data.new_password,
            source=source_of(request),
        )
    except (ValidationError, DomainError) as exc:
        reason = (
            exc.message
            if isinstance(exc, DomainError)
            else "新密码至少10个字符 the new password needs at least 10 characters"
        )
        return templates.TemplateResponse(
            request, "password.html", {"officer": officer, "error": reason}, status_code=400
        )
    session.commit()
    return _start_session(request, officer)


@router.post("/logout", dependencies=[Depends(csrf_guard)])
def logout(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if officer is not None:
        accounts.sign_out(session=session, officer=officer, source=source_of(request))
        session.commit()
    response = to_login()
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", secure=cookie_is_secure(request))
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if redirect := elsewhere(officer):
        return redirect
    rendered_at = utcnow()
    settings = get_settings()
    start = caseload_map.start(session, officer)
    session.commit()  # the audited read of positions
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "officer": officer,
            "start": start,
            "categories": CATEGORY_LABELS,
            "risks": RISK_LABELS,
            # A reminder, not an alert: a deadline for the officer, not a violation by the person.
            "ending": caseload_monitoring.list_ending(
                session=session, viewer=officer, within_days=settings.monitoring_reminder_days
            ),
            "level_badges": LEVEL_BADGES,
            # The page follows the live streams from the moment it was rendered (static/live.js, map.js).
            "live": {"since": rendered_at.isoformat(), "tz": settings.display_tz, "levels": LEVEL_BADGES},
            "map_data": {
                "people": start.people,
                "officers": start.officers,
                "stale_after_ms": settings.map_stale_after_min * 60_000,
                "tz": settings.display_tz,
            },
        },
    )
