"""The auditor's view: alert history, the audit log, track access and the chain's status. Read-only:
no page here changes anything (the API would refuse an auditor anyway). The alert history is also the
command centre's; the chain's pages are for auditors and admins, as its API."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from alerts import service as alerts_service
from alerts.models import AlertStatus
from caseload import service as caseload_service
from core import audit
from core.errors import DomainError
from core.security import Role
from core.timezones import display_tz, utcnow
from core.web import SessionDep
from core.wire import AlertLevel
from officer_portal import audit_api
from officer_portal.rendering import PageOfficer, elsewhere, templates

router = APIRouter(include_in_schema=False)
CHAIN_READERS = frozenset({Role.auditor, Role.admin})
HISTORY_PAGE = 50
LOG_PAGE = 100
TRACK_READS = {
    "supervisee.track_read": "轨迹查询 track reads",
    "positions.live_read": "实时位置查询 live-position reads",
}
EVENT_LABELS = {
    "opened": "开启 opened",
    "level_raised": "升为红色 raised to red",
    "ended": "已返回 ended",
    "acknowledged": "签收 acknowledged",
    "escalated": "上报 escalated",
    "resolved": "处置 resolved",
}
STATUS_LABELS = {"open": "未处理 open", "acknowledged": "已签收 acknowledged", "resolved": "已处置 resolved"}


def _asked(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The search form's non-empty fields."""
    return {n: v.strip() for n in names if (v := request.query_params.get(n)) and v.strip()}


def _moment(value: str | None) -> datetime | None:
    """A datetime-local field (no offset: the display time zone) or an ISO time with its offset."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=display_tz())


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def _position(request: Request, name: str) -> int:
    """A paging position (offset, after_id): a whole number, else the start."""
    value = request.query_params.get(name, "")
    return int(value) if value.isdigit() else 0


def _reason(exc: ValueError | DomainError) -> str:
    """Why a search could not run, for the page (the API's reason where it gave one)."""
    return exc.message if isinstance(exc, DomainError) else f"查询条件有误 invalid search: {exc}"


def _tabs(officer) -> list[tuple[str, str]]:
    tabs = [("/audit", "报警历史 Alert history")]
    if officer.role in CHAIN_READERS:
        tabs += [
            ("/audit/log", "审计日志 Audit log"),
            ("/audit/tracks", "轨迹查阅记录 Who looked at whose track"),
            ("/audit/chain", "日志链校验 Chain status"),
        ]
    return tabs


def _render(request: Request, name: str, officer, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"officer": officer, "tabs": _tabs(officer), **context})


HISTORY_FIELDS = ("person", "rule", "level", "status", "officer_id", "district_id", "from", "to")


@router.get("/audit", response_class=HTMLResponse)
def alert_history(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, audit_api.OVERSEERS):
        return r
    asked = _asked(request, HISTORY_FIELDS)
    offset = _position(request, "offset")
    error, alerts, export = None, [], {}
    districts = caseload_service.list_districts(session=session, viewer=officer)
    try:
        period = {"from_": _moment(asked.get("from")), "to": _moment(asked.get("to"))}
        search = audit_api.history_search(
            session,
            officer,
            person=asked.get("person"),
            rule=asked.get("rule"),
            level=AlertLevel(asked["level"]) if "level" in asked else None,
            status=AlertStatus(asked["status"]) if "status" in asked else None,
            officer_id=_int(asked.get("officer_id")),
            district_id=_int(asked.get("district_id")),
            **period,
        )
        found = alerts_service.search_history(
            session=session, viewer=officer, search=search, limit=HISTORY_PAGE, offset=offset
        )
        alerts = audit_api.with_transitions(session, list(found))
        # The export links carry the same search, times with their offset (as the API wants them).
        export = {k: v for k, v in asked.items() if k not in ("from", "to")}
        export |= {k: period[p].isoformat() for k, p in (("from", "from_"), ("to", "to")) if period[p]}
    except (ValueError, DomainError) as exc:
        error = _reason(exc)
    return _render(
        request,
        "audit_history.html",
        officer,
        asked=asked,
        alerts=alerts,
        error=error,
        offset=offset,
        page_size=HISTORY_PAGE,
        more=len(alerts) == HISTORY_PAGE,
        page_query=lambda new_offset: urlencode({**asked, "offset": new_offset}),
        export_query=lambda fmt: urlencode({**export, "format": fmt}),
        levels=list(AlertLevel),
        statuses=STATUS_LABELS,
        event_labels=EVENT_LABELS,
        officers=caseload_service.list_officers(session=session, viewer=officer),
        districts=districts,
        district_names={d.id: d.name for d in districts},
    )


def _entries(request: Request, session, officer, asked: dict[str, str], action: str | None):
    """A page of the chain as the audit API would give it, with names for its officers; the read is
    audited as the API's is."""
    after_id = _position(request, "after_id")
    filters = audit_api.audit_filters(
        session,
        officer,
        actor=asked.get("actor"),
        action=action,
        entity=asked.get("entity"),
        entity_id=asked.get("entity_id"),
        from_=_moment(asked.get("from")),
        to=_moment(asked.get("to")),
    )
    rows = audit.list_entries(session, filters=filters, after_id=after_id, limit=LOG_PAGE)
    caseload_service.record(session, officer, "audit.read", officer.district_id, {"query": asked, "via": "page"})
    session.commit()
    named = audit_api.officer_ids(r.actor for r in rows)
    names = caseload_service.officer_names(session=session, officer_ids=list(named))
    return rows, names, (rows[-1].id if len(rows) == LOG_PAGE else None)


def _default_from(asked: dict[str, str]) -> dict[str, str]:
    # With no time given, the last day: the chain is oldest first and would start at its beginning.
    if "from" not in asked and "to" not in asked:
        day_ago = (utcnow() - timedelta(days=1)).astimezone(display_tz())
        asked = {**asked, "from": day_ago.strftime("%Y-%m-%dT%H:%M")}
    return asked


@router.get("/audit/log", response_class=HTMLResponse)
def audit_log(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, CHAIN_READERS):
        return r
    asked = _default_from(_asked(request, ("actor", "action", "entity", "entity_id", "from", "to")))
    rows, names, next_after = [], {}, None
    error = None
    try:
        rows, names, next_after = _entries(request, session, officer, asked, asked.get("action"))
    except (ValueError, DomainError) as exc:
        error = _reason(exc)
    export = {k: v for k, v in asked.items() if k not in ("from", "to")}
    export |= {k: _moment(asked[k]).isoformat() for k in ("from", "to") if k in asked and not error}
    return _render(
        request,
        "audit_log.html",
        officer,
        asked=asked,
        rows=rows,
        names=names,
        error=error,
        next_query=next_after and urlencode({**asked, "after_id": next_after}),
        export_query=urlencode({**export, "format": "csv"}),
        actor_name=audit_api.actor_name,
    )


@router.get("/audit/tracks", response_class=HTMLResponse)
def track_reads(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, CHAIN_READERS):
        return r
    asked = _default_from(_asked(request, ("kind", "actor", "entity_id", "from", "to")))
    kind = asked.get("kind") if asked.get("kind") in TRACK_READS else "supervisee.track_read"
    rows, names, next_after, people = [], {}, None, {}
    error = None
    try:
        rows, names, next_after = _entries(request, session, officer, asked, kind)
        shown = {int(r.entity_id) for r in rows if r.entity == "supervisee" and r.entity_id.isdigit()}
        shown |= {sid for r in rows for sid in r.detail.get("supervisee_ids", [])[:10]}
        people = caseload_service.supervisee_names(session=session, supervisee_ids=list(shown))
    except (ValueError, DomainError) as exc:
        error = _reason(exc)
    return _render(
        request,
        "audit_tracks.html",
        officer,
        asked=asked,
        kind=kind,
        kinds=TRACK_READS,
        rows=rows,
        names=names,
        people=people,
        error=error,
        next_query=next_after and urlencode({**asked, "after_id": next_after}),
        actor_name=audit_api.actor_name,
    )


@router.get("/audit/chain", response_class=HTMLResponse)
def chain_status(request: Request, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, CHAIN_READERS):
        return r
    # The walk takes about a minute per million entries: the page asks the API for it (static/audit.js).
    return _render(request, "audit_chain.html", officer)
