"""What every portal page shares: the templates, the signed-in officer, where a caller who may not
see a page is sent, and the role check a page makes (the API behind it checks again: a hidden button
is not security)."""

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from caseload.auth import SESSION_COOKIE, signed_in_officer
from caseload.models import Category, Officer, RiskLevel
from core.config import get_settings
from core.security import Role, csrf_token
from core.timezones import to_display
from core.web import SessionDep
from core.wire import AlertLevel
from officer_portal.maps import basemap_config

LEVEL_BADGES = {AlertLevel.red: "红 red", AlertLevel.yellow: "黄 yellow"}
CATEGORY_LABELS = {
    Category.control: "管制 control",
    Category.probation: "缓刑 probation",
    Category.parole: "假释 parole",
    Category.temporary_release: "暂予监外执行 temporary release",
}
RISK_LABELS = {RiskLevel.low: "低 low", RiskLevel.medium: "中 medium", RiskLevel.high: "高 high"}

# The portal's sections, in the navigation bar's order: (path, label, roles that may open it).
SECTIONS = (
    ("/", "实时监管 Live", frozenset(Role)),
    ("/alerts", "报警 Alerts", frozenset(Role)),
    ("/supervisees", "人员 Supervisees", frozenset({Role.officer, Role.supervisor, Role.command, Role.admin})),
    ("/zones", "电子围栏 Zones", frozenset({Role.officer, Role.supervisor, Role.command, Role.admin})),
    ("/rollcalls", "点名 Roll calls", frozenset(Role)),
    ("/command", "指挥中心 Command", frozenset({Role.supervisor, Role.command, Role.admin})),
    ("/reports/response-times", "双向监管 Response", frozenset({Role.supervisor, Role.command, Role.admin})),
    ("/audit", "审计 Audit", frozenset({Role.auditor, Role.command, Role.admin})),
    ("/admin", "管理 Admin", frozenset({Role.command, Role.admin})),
)


def _page_context(request: Request) -> dict:
    # Every page of a session carries its CSRF token (base.html's meta tag, forms' hidden field) and
    # the display time zone for scripts that format times.
    cookie = request.cookies.get(SESSION_COOKIE)
    return {
        "csrf_token": csrf_token(cookie) if cookie else None,
        "display_tz": get_settings().display_tz,
        "level_badges": LEVEL_BADGES,
        "path": request.url.path,
    }


templates = Jinja2Templates(directory=Path(__file__).parent / "templates", context_processors=[_page_context])
templates.env.filters["local"] = to_display


def page_officer(request: Request, session: SessionDep) -> Officer | None:
    try:
        return signed_in_officer(request, session, None)
    except HTTPException:  # not signed in: the page redirects; any other failure is a real error
        return None


PageOfficer = Annotated[Officer | None, Depends(page_officer)]


def to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def elsewhere(officer: Officer | None, roles: Iterable[Role] = frozenset(Role)) -> Response | None:
    """Where a page sends a caller who may not see it: sign-in, the password change first, or a 403
    page naming the roles that may; None when the caller may see it."""
    if officer is None:
        return to_login()
    if officer.must_change_password:
        return RedirectResponse("/password", status_code=303)
    allowed = frozenset(roles)
    if officer.role not in allowed:
        names = " or ".join(sorted(allowed))
        return HTMLResponse(
            f"<!doctype html><meta charset=utf-8><title>403</title><p>无权访问 This page is for {names}; "
            f"you are {officer.role}. <a href=/>返回 Back</a></p>",
            status_code=403,
        )
    return None


def sections_for(officer: Officer) -> list[tuple[str, str]]:
    """The navigation bar's links this officer may follow."""
    return [(path, label) for path, label, roles in SECTIONS if officer.role in roles]


templates.env.globals["sections_for"] = sections_for
templates.env.globals["basemap_config"] = basemap_config
