"""Caseload administration for command and admins: officers, districts, gateways and cameras, and the
devices of their caseload. The pages list; every change goes to the REST API (static/admin.js), whose
role ceilings and scope apply, and whose refusal the page shows."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from caseload import service as caseload_service
from caseload import sources as caseload_sources
from caseload.models import CameraKind, DeviceKind
from core.security import Role
from core.web import SessionDep
from officer_portal.rendering import PageOfficer, elsewhere, templates
from tracker_ingest import positions

router = APIRouter(include_in_schema=False)
MANAGER_ROLES = frozenset({Role.command, Role.admin})
DEVICES_PAGE = 500
TABS = (
    ("/admin", "民警账户 Officers"),
    ("/admin/districts", "辖区 Districts"),
    ("/admin/sources", "网关与摄像头 Gateways & cameras"),
    ("/admin/devices", "定位设备 Devices"),
)
ROLE_LABELS = {
    Role.officer: "民警 officer",
    Role.supervisor: "主管 supervisor",
    Role.command: "指挥中心 command",
    Role.auditor: "审计 auditor",
    Role.admin: "管理员 admin",
}


def _render(request: Request, session, officer, name: str, **context) -> HTMLResponse:
    districts = caseload_service.list_districts(session=session, viewer=officer)
    return templates.TemplateResponse(
        request,
        name,
        {
            "officer": officer,
            "tabs": TABS,
            "districts": districts,
            "district_names": {d.id: d.name for d in districts},
            "role_labels": ROLE_LABELS,
            **context,
        },
    )


@router.get("/admin", response_class=HTMLResponse)
def officers(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, MANAGER_ROLES):
        return r
    staff = caseload_service.list_officers(session=session, viewer=officer)
    return _render(request, session, officer, "admin_officers.html", staff=staff)


@router.get("/admin/districts", response_class=HTMLResponse)
def districts(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, MANAGER_ROLES):
        return r
    return _render(request, session, officer, "admin_districts.html", may_edit=officer.role == Role.admin)


@router.get("/admin/sources", response_class=HTMLResponse)
def sources(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, MANAGER_ROLES):
        return r
    return _render(
        request,
        session,
        officer,
        "admin_sources.html",
        gateways=caseload_sources.list_gateways(session=session, viewer=officer),
        cameras=caseload_sources.list_cameras(session=session, viewer=officer),
        camera_kinds=list(CameraKind),
    )


@router.get("/admin/devices", response_class=HTMLResponse)
def devices(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, MANAGER_ROLES):
        return r
    raw_offset = request.query_params.get("offset", "")
    offset = int(raw_offset) if raw_offset.isdigit() else 0
    rows = caseload_service.list_devices_in_scope(session=session, viewer=officer, limit=DEVICES_PAGE, offset=offset)
    # Last seen: the person's last fix, and whether it came from this device.
    last = {
        p.supervisee_id: p
        for p in positions.live_positions(session, supervisee_ids=[d.supervisee_id for d, _, _ in rows])
    }
    return _render(
        request,
        session,
        officer,
        "admin_devices.html",
        rows=rows,
        last_fix=last,
        kinds={DeviceKind.phone: "手机 phone", DeviceKind.tracker: "定位器 tracker"},
        offset=offset,
        more=len(rows) == DEVICES_PAGE,
        page_size=DEVICES_PAGE,
    )
