"""The roll-call console (点名): launch a roll call and see the recent ones, watch one live (map, list,
counts, countdown), the identity-verification queue (answer photo beside the enrolment photo), the
statistics and the scheduled-rule editor. Pages only read, through the domains' services with the
API's scoping; every action goes to the REST API from static/rollcall*.js, so the API's role and
caseload checks are the ones that apply."""

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from caseload import service as caseload_service
from caseload.models import Officer
from core.config import get_settings
from core.errors import NotFound
from core.security import Role
from core.timezones import display_tz, utcnow
from core.web import SessionDep
from officer_portal.rendering import CATEGORY_LABELS, RISK_LABELS, SECTIONS, PageOfficer, elsewhere, templates
from rollcall import service as rollcall_service
from rollcall.config import get_rollcall_settings
from rollcall.models import AnswerVia, Period, RollCallMode, TargetStatus, Verification
from rollcall.schemas import RollCallStatus

router = APIRouter(include_in_schema=False)

# Everyone with the navigation entry may look; auditors only look (the API refuses them anything else).
VIEWERS = next(roles for path, _, roles in SECTIONS if path == "/rollcalls")
ISSUERS = VIEWERS - {Role.auditor}
# Scheduled rules are a district's policy: its supervisors and above edit them (the rules API's rule).
RULE_EDITORS = frozenset({Role.supervisor, Role.command, Role.admin})

MODE_LABELS = {
    RollCallMode.phone: "手机 phone",
    RollCallMode.camera: "摄像头 camera",
    RollCallMode.office: "报到 office",
}
STATUS_LABELS = {
    TargetStatus.pending: "待答 pending",
    TargetStatus.answered: "已答 answered",
    TargetStatus.late: "迟答 late",
    TargetStatus.missed: "未答 missed",
    TargetStatus.excused: "免答 excused",
}
VERIFICATION_LABELS = {
    Verification.not_needed: "无需 not needed",
    Verification.queued: "待核验 queued",
    Verification.confirmed: "已确认 confirmed",
    Verification.rejected: "不符 rejected",
}
CALL_STATUS_LABELS = {
    RollCallStatus.open: "进行中 open",
    RollCallStatus.closed: "已结束 closed",
    RollCallStatus.cancelled: "已取消 cancelled",
}
PERIOD_LABELS = {Period.day: "每天 per day", Period.week: "每周 per week"}
VIA_LABELS = {AnswerVia.phone: "手机 phone", AnswerVia.camera: "摄像头 camera", AnswerVia.office: "报到 office"}
STATS_DAYS = 30  # the statistics page opens on the last month


def _labels() -> dict:
    """What the pages and their scripts name in Chinese and English."""
    return {
        "modes": MODE_LABELS,
        "statuses": STATUS_LABELS,
        "call_statuses": CALL_STATUS_LABELS,
        "verifications": VERIFICATION_LABELS,
        "periods": PERIOD_LABELS,
        "via": VIA_LABELS,
        "risks": RISK_LABELS,
        "categories": CATEGORY_LABELS,
    }


def _script_config(officer: Officer, **extra) -> dict:
    """The page's data for its script (a JSON block: the CSP allows no inline code)."""
    labels = {name: {k.value: v for k, v in table.items()} for name, table in _labels().items()}
    return {"officer_id": officer.id, "tz": get_settings().display_tz, "labels": labels, **extra}


def _default_minutes() -> dict:
    settings = get_rollcall_settings()
    return {
        mode.value: {
            "deadline_min": getattr(settings, f"{mode.value}_deadline_min"),
            "close_min": getattr(settings, f"{mode.value}_close_min"),
        }
        for mode in RollCallMode
    }


def _page(request: Request, name: str, officer: Officer, context: dict, config: dict) -> Response:
    return templates.TemplateResponse(
        request,
        name,
        {"officer": officer, "config": _script_config(officer, **config), **_labels(), **context},
    )


@router.get("/rollcalls", response_class=HTMLResponse)
def rollcall_console(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, VIEWERS):
        return r
    districts = caseload_service.list_districts(session=session, viewer=officer)
    officers = caseload_service.assignable_officers(session=session, viewer=officer)
    context = {
        "can_issue": officer.role in ISSUERS,
        "districts": districts,
        "caseload_officers": officers,
        "today": utcnow().astimezone(display_tz()).date(),
    }
    return _page(request, "rollcall_console.html", officer, context, {"defaults": _default_minutes()})


@router.get("/rollcalls/verify", response_class=HTMLResponse)
def verification_queue(request: Request, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, ISSUERS):
        return r
    return _page(request, "rollcall_verify.html", officer, {}, {})


@router.get("/rollcalls/stats", response_class=HTMLResponse)
def rollcall_stats(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, VIEWERS):
        return r
    districts = caseload_service.list_districts(session=session, viewer=officer)
    today = utcnow().astimezone(display_tz())
    offset = today.strftime("%z")  # the page's dates are local days: +0800 -> +08:00 for ISO times
    context = {"districts": districts, "today": today.date(), "since": today.date() - timedelta(days=STATS_DAYS)}
    return _page(request, "rollcall_stats.html", officer, context, {"utc_offset": f"{offset[:3]}:{offset[3:]}"})


@router.get("/rollcalls/rules", response_class=HTMLResponse)
def rule_editor(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, VIEWERS):
        return r
    districts = caseload_service.list_districts(session=session, viewer=officer)
    context = {"districts": districts, "can_edit": officer.role in RULE_EDITORS}
    names = {d.id: d.name for d in districts}
    return _page(request, "rollcall_rules.html", officer, context, {"district_names": names})


@router.get("/rollcalls/{roll_call_id}", response_class=HTMLResponse)
def rollcall_watch(roll_call_id: int, request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, VIEWERS):
        return r
    try:
        roll_call = rollcall_service.get_roll_call(session, officer, roll_call_id)
    except NotFound:
        # As the API answers: a roll call with no one of the viewer's caseload does not exist for them.
        return templates.TemplateResponse(
            request, "rollcall_missing.html", {"officer": officer, "roll_call_id": roll_call_id}, status_code=404
        )
    context = {"roll_call": roll_call, "can_act": officer.role in ISSUERS}
    config = {"roll_call_id": roll_call_id, "can_act": officer.role in ISSUERS}
    return _page(request, "rollcall_watch.html", officer, context, config)
