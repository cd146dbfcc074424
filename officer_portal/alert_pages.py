"""The alert queue, an alert's page and its actions, and the response-time report (双向监管).

Pages only read (through the alerts and caseload services, scoped like the API); every action is a
call from static/alerts.js to the alerts API, whose role and caseload checks are the ones that apply."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from alerts import queue, report, rules
from alerts import service as alerts_service
from alerts.models import AlertStatus, Disposition
from caseload import service as caseload_service
from core.config import get_settings
from core.errors import DomainError, Invalid
from core.security import Role
from core.timezones import display_tz, utcnow
from core.web import SessionDep
from core.wire import AlertLevel
from officer_portal.rendering import LEVEL_BADGES, SECTIONS, PageOfficer, elsewhere, templates

router = APIRouter(include_in_schema=False)

PAGE_SIZES = (50, 100, 200)
HANDLERS = frozenset(alerts_service.HANDLERS)
REPORT_READERS = frozenset({Role.supervisor, Role.command, Role.admin})
DISPOSITIONS = {
    Disposition.confirmed_violation: "确认违规 Confirmed violation",
    Disposition.false_alarm: "误报 False alarm",
    Disposition.approved_absence: "已批准外出 Approved absence",
    Disposition.other: "其他 Other",
}
STATUS_LABELS = {
    AlertStatus.open: "待处理 open",
    AlertStatus.acknowledged: "已确认 acknowledged",
    AlertStatus.resolved: "已处置 resolved",
}
# The report's columns, in order: key → heading.
REPORT_COLUMNS = {
    "full_name": "民警 Officer",
    "assigned": "报警数 Alerts",
    "acknowledged": "已响应 Answered",
    "median_min": "确认中位数(分) Median to answer, min",
    "p90_min": "确认P90(分) p90 to answer, min",
    "resolve_median_min": "处置中位数(分) Median to resolve, min",
    "resolve_p90_min": "处置P90(分) p90 to resolve, min",
    "within_sla": "按时 Within SLA",
    "overdue": "超时 Overdue",
    "escalated": "已上报 Escalated",
    "still_open": "未处理 Still open",
}
# Before and after an alert, the replay link shows the track around it.
REPLAY_MARGIN = timedelta(minutes=30)


def _refused(request: Request, officer, reason: str, status_code: int = 400) -> Response:
    return templates.TemplateResponse(
        request, "alert_error.html", {"officer": officer, "reason": reason}, status_code=status_code
    )


def _local_moment(value: str, name: str) -> datetime | None:
    """A datetime-local field (display time zone) as an aware time; empty means none."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(f"{name}: 时间格式应为 YYYY-MM-DDTHH:MM, not '{value}'") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=display_tz())


def _choice(enum_type, value: str, name: str, default=None):
    if not value:
        return default
    try:
        return enum_type(value)
    except ValueError as exc:
        raise Invalid(f"{name}: '{value}' is not one of {', '.join(e.value for e in enum_type)}") from exc


def _whole(value: str, name: str, default: int | None = None, allowed=None) -> int | None:
    if not value:
        return default
    if not value.isdigit() or (allowed is not None and int(value) not in allowed):
        raise Invalid(f"{name}: '{value}' is not a valid number here")
    return int(value)


def _criteria(params) -> queue.QueueCriteria:
    return queue.QueueCriteria(
        level=_choice(AlertLevel, params.get("level", ""), "level"),
        rule=params.get("rule") or None,
        status=_choice(queue.QueueStatus, params.get("status", ""), "status", queue.QueueStatus.unresolved),
        officer_id=_whole(params.get("officer", ""), "officer"),
        district_id=_whole(params.get("district", ""), "district"),
        started_from=_local_moment(params.get("from", ""), "from"),
        started_to=_local_moment(params.get("to", ""), "to"),
        sort=_choice(queue.QueueSort, params.get("sort", ""), "sort", queue.QueueSort.level),
        descending=params.get("dir", "desc") != "asc",
    )


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if redirect := elsewhere(officer):
        return redirect
    params = request.query_params
    try:
        criteria = _criteria(params)
        limit = _whole(params.get("limit", ""), "limit", PAGE_SIZES[0], PAGE_SIZES)
        offset = _whole(params.get("offset", ""), "offset", 0)
        alerts, total = queue.list_queue(session=session, viewer=officer, criteria=criteria, limit=limit, offset=offset)
    except DomainError as exc:
        return _refused(request, officer, exc.message, exc.status_code)
    names = caseload_service.supervisee_names(
        session=session, supervisee_ids=[a.supervisee_id for a in alerts if a.supervisee_id is not None]
    )
    officers = {o.id: o for o in caseload_service.list_officers(session=session, viewer=officer)}
    kept = {k: v for k, v in params.items() if k not in ("offset",) and v}

    def link(**changes) -> str:
        return "/alerts?" + urlencode({**kept, **{k: v for k, v in changes.items() if v is not None}})

    return templates.TemplateResponse(
        request,
        "alert_queue.html",
        {
            "officer": officer,
            "alerts": alerts,
            "total": total,
            "limit": limit,
            "offset": offset,
            "criteria": criteria,
            "params": params,
            "names": names,
            "officers": officers,
            "districts": caseload_service.list_districts(session=session, viewer=officer),
            "rule_labels": rules.RULE_LABELS,
            "status_labels": STATUS_LABELS,
            "link": link,
            "sorts": queue.QueueSort,
            "statuses": queue.QueueStatus,
            "live": {"since": utcnow().isoformat(), "levels": LEVEL_BADGES},
        },
    )


def _evidence_fixes(alert, events) -> list[dict]:
    """The positions an alert's evidence names (its first and last, and each transition's), once each."""
    found = [alert.evidence.get("first"), alert.evidence.get("last")]
    found += [e.detail.get("evidence") for e in events]
    fixes = {}
    for fix in found:
        # An "ended" zone event carries no position (0, 0); a signal-lost alert none at all.
        if isinstance(fix, dict) and fix.get("lat") and fix.get("lon"):
            fixes[(fix.get("ts"), fix["lat"], fix["lon"])] = {
                k: fix.get(k) for k in ("ts", "lat", "lon", "accuracy_m", "distance_m", "reason")
            }
    return sorted(fixes.values(), key=lambda f: f["ts"] or "")


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(alert_id: int, request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if redirect := elsewhere(officer):
        return redirect
    try:
        alert = alerts_service.get(session=session, viewer=officer, alert_id=alert_id)
    except DomainError as exc:
        return _refused(request, officer, exc.message, exc.status_code)
    events = alerts_service.list_events(session=session, viewer=officer, alert_id=alert_id)
    person = None
    if alert.supervisee_id is not None:
        person = caseload_service.supervisee_names(session=session, supervisee_ids=[alert.supervisee_id]).get(
            alert.supervisee_id
        )
    replay_to = (alert.ended_at or utcnow()) + REPLAY_MARGIN
    replay = {"from": (alert.started_at - REPLAY_MARGIN).isoformat(), "to": replay_to.isoformat()}
    may_handle = officer.role in HANDLERS
    return templates.TemplateResponse(
        request,
        "alert_detail.html",
        {
            "officer": officer,
            "alert": alert,
            "events": events,
            "person": person,
            "replay_href": f"/supervisees/{alert.supervisee_id}/track?{urlencode(replay)}",
            "may_handle": may_handle,
            # The person's page and track are for the roles the supervisee pages are for.
            "sees_people": any(path == "/supervisees" and officer.role in roles for path, _, roles in SECTIONS),
            "actions": {
                "ack": may_handle and alert.status == AlertStatus.open,
                "resolve": may_handle and alert.status != AlertStatus.resolved,
                "escalate": may_handle and alert.status != AlertStatus.resolved and alert.escalated_at is None,
                "suspend": may_handle and alert.supervisee_id is not None,
            },
            "dispositions": DISPOSITIONS,
            "rule_label": rules.RULE_LABELS.get(alert.rule, alert.rule),
            "status_labels": STATUS_LABELS,
            "map_data": {
                "alert_id": alert.id,
                "zone_id": alert.zone_id,
                "fixes": _evidence_fixes(alert, events),
                "tz": get_settings().display_tz,
                "since": utcnow().isoformat(),  # the page follows the live stream from here
                # The suspension form's Until is in the display time zone; the API wants an offset.
                "tz_offset": utcnow().astimezone(display_tz()).isoformat()[-6:],
            },
            "suspend_until": (utcnow() + timedelta(hours=24)).astimezone(display_tz()).strftime("%Y-%m-%dT%H:%M"),
        },
    )


@router.get("/reports/response-times", response_class=HTMLResponse)
def response_times_page(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if redirect := elsewhere(officer, REPORT_READERS):
        return redirect
    params = request.query_params
    now = utcnow()
    try:
        until = _local_moment(params.get("to", ""), "to") or now
        since = _local_moment(params.get("from", ""), "from") or until - timedelta(days=30)
        district_id = _whole(params.get("district", ""), "district")
        rows = report.response_times(session=session, viewer=officer, since=since, until=until, district_id=district_id)
    except DomainError as exc:
        return _refused(request, officer, exc.message, exc.status_code)
    sort = params.get("sort", "median_min")
    if sort not in REPORT_COLUMNS:
        return _refused(request, officer, f"sort: '{sort}' is not one of {', '.join(REPORT_COLUMNS)}")
    descending = params.get("dir", "desc") != "asc"
    # Officers with no answer yet sort last either way.
    rows.sort(key=lambda r: (r[sort] is None, r[sort] if r[sort] is not None else 0), reverse=False)
    if descending:
        answered = [r for r in rows if r[sort] is not None][::-1]
        rows = answered + [r for r in rows if r[sort] is None]
    kept = {k: v for k, v in params.items() if k not in ("sort", "dir") and v}
    return templates.TemplateResponse(
        request,
        "response_times.html",
        {
            "officer": officer,
            "rows": rows,
            "columns": REPORT_COLUMNS,
            "sort": sort,
            "descending": descending,
            "sort_link": lambda column: (
                "/reports/response-times?"
                + urlencode({**kept, "sort": column, "dir": "asc" if column == sort and descending else "desc"})
            ),
            "since_local": since.astimezone(display_tz()).strftime("%Y-%m-%dT%H:%M"),
            # Empty means now: a minute-rounded "now" sent back would leave out this minute's alerts.
            "until_local": params.get("to", ""),
            "district_id": district_id,
            "districts": caseload_service.list_districts(session=session, viewer=officer),
        },
    )
