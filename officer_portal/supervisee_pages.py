"""Supervisees' pages: the caseload list (search, filters, paging, registering a person) and one
person's page (profile, periods, devices and registering a phone, zones, alerts, sightings). Pages only
read, through the domains' services with the API's scoping; every change goes to the REST API from
static/supervisees.js, so the API's role and caseload checks are the ones that apply."""

from math import ceil

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from alerts import service as alerts_service
from caseload import monitoring as caseload_monitoring
from caseload import service as caseload_service
from caseload.models import GROUND_LABELS, Datum, DeviceKind
from caseload.schemas import CaseloadFilter, SuperviseeOut
from core.errors import NotFound
from core.security import Role
from core.timezones import utcnow
from core.web import SessionDep
from geofence import service as geofence_service
from officer_portal.rendering import CATEGORY_LABELS, RISK_LABELS, SECTIONS, PageOfficer, elsewhere, templates
from tracker_ingest import sightings

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
RECENT = 20
# Who may open these pages: the navigation bar's rule for the section.
VIEWERS = next(roles for path, _, roles in SECTIONS if path == "/supervisees")
SIGHTING_LABELS = {
    "sighting": "摄像头 camera",
    "report": "报到 report-in",
    "announcement": "入矫宣告 announcement",
    "education": "集中教育 education",
    "community_service": "社区服务 community service",
}
LABELS = {
    "categories": CATEGORY_LABELS,
    "risks": RISK_LABELS,
    "grounds": GROUND_LABELS,
    "sighting_kinds": SIGHTING_LABELS,
    # What an officer may register; the phone page's web device (#16) is made by its sign-in link.
    "device_kinds": {DeviceKind.phone: "手机 phone", DeviceKind.tracker: "定位器 tracker"},
    "device_labels": {
        DeviceKind.phone: "手机 phone",
        DeviceKind.tracker: "定位器 tracker",
        DeviceKind.web: "手机页面 phone page",
    },
    "datums": {Datum.wgs84: "WGS-84 (GPS)", Datum.gcj02: "GCJ-02 (高德/腾讯)", Datum.bd09: "BD-09 (百度)"},
}


def _caseload_filter(request: Request) -> tuple[CaseloadFilter, str | None]:
    """The list's filters from the query string; an empty field means "any" (an HTML form sends it)."""
    given = {k: v for k, v in request.query_params.items() if v != "" and k in CaseloadFilter.model_fields}
    given.setdefault("active", "true")
    if given["active"] == "any":
        del given["active"]
    try:
        return CaseloadFilter.model_validate(given), None
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return CaseloadFilter(active=True), f"筛选条件无效 invalid filter: {reason}"


def _page_number(request: Request) -> int:
    number = request.query_params.get("page", "1")
    return max(1, int(number)) if number.isdigit() else 1


def _officer_names(session, officer, also: tuple[int | None, ...] = ()) -> dict[int, str]:
    """The viewer's districts' officers, and ``also`` (say, approvers of another district) by id."""
    staff = [o.id for o in caseload_service.list_officers(session=session, viewer=officer)]
    wanted = {oid for oid in (*staff, *also) if oid is not None}
    # Name and username: two officers may share a name.
    names = caseload_service.officer_names(session=session, officer_ids=list(wanted))
    return {oid: f"{name}（{username}）" for oid, (username, name) in names.items()}


@router.get("/supervisees", response_class=HTMLResponse)
def supervisee_list(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if redirect := elsewhere(officer, VIEWERS):
        return redirect
    found, filter_error = _caseload_filter(request)
    total = caseload_service.count_supervisees(session=session, viewer=officer, found=found)
    pages = max(1, ceil(total / PAGE_SIZE))
    number = min(_page_number(request), pages)
    people = caseload_service.list_supervisees(
        session=session, viewer=officer, found=found, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
    )
    query = {k: v for k, v in request.query_params.items() if k != "page"}
    return templates.TemplateResponse(
        request,
        "supervisee_list.html",
        {
            "officer": officer,
            "people": people,
            "found": found,
            "filter_error": filter_error,
            "active_choice": request.query_params.get("active") or "true",
            "total": total,
            "page": number,
            "pages": pages,
            "query": query,
            "officer_names": _officer_names(session, officer),
            "assignable": caseload_service.assignable_officers(session=session, viewer=officer),
            "districts": caseload_service.list_districts(session=session, viewer=officer),
            "can_manage": officer.role in caseload_service.MANAGERS,
            "today": utcnow().date(),
            **LABELS,
        },
    )


@router.get("/supervisees/{supervisee_id}", response_class=HTMLResponse)
def supervisee_page(supervisee_id: int, request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if redirect := elsewhere(officer, VIEWERS):
        return redirect
    try:
        person = caseload_service.get_supervisee(session=session, viewer=officer, supervisee_id=supervisee_id)
    except NotFound:
        # As the API answers: a person outside the caseload does not exist for this viewer.
        return templates.TemplateResponse(
            request, "supervisee_missing.html", {"officer": officer, "supervisee_id": supervisee_id}, status_code=404
        )
    seen = sightings.read_sightings(session, viewer=officer, supervisee_id=supervisee_id, limit=RECENT)
    session.commit()  # the audited read of the sightings
    alerts = alerts_service.list_alerts(session=session, viewer=officer, supervisee_id=supervisee_id, limit=RECENT)
    try:
        district = caseload_service.get_district(session=session, viewer=officer, district_id=person.district_id)
    except NotFound:  # an officer assigned someone of a district outside their own
        district = None
    periods = caseload_monitoring.list_periods(session=session, viewer=officer, supervisee_id=supervisee_id)
    deciders = tuple(oid for p in periods for oid in (p.approved_by, p.released_by))
    names = _officer_names(session, officer, (person.officer_id, *deciders))
    return templates.TemplateResponse(
        request,
        "supervisee_page.html",
        {
            "officer": officer,
            "person": SuperviseeOut.model_validate(person),
            "district": district,
            "officer_names": names,
            "periods": periods,
            "devices": caseload_service.list_devices(session=session, viewer=officer, supervisee_id=supervisee_id),
            "zones": geofence_service.list_zones(
                session=session, viewer=officer, supervisee_id=supervisee_id, active=None
            ),
            "alerts": alerts,
            "sightings": seen,
            "assignable": caseload_service.assignable_officers(session=session, viewer=officer),
            "can_manage": officer.role in caseload_service.MANAGERS,
            "can_approve": officer.role in caseload_monitoring.APPROVERS,
            "can_transfer": officer.role != Role.officer,
            "today": utcnow().date(),
            **LABELS,
        },
    )
