"""The zone editor and travel leave (请假外出): the zones the viewer may see on a map and in a list, an
editor for them, and the leave requests with their decisions. Every change goes to the REST API
(static/zones.js), whose role and caseload checks apply; this page only reads."""

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from caseload import service as caseload_service
from core.security import Role
from core.timezones import display_tz
from core.web import SessionDep
from geofence import leave as geofence_leave
from geofence import service as geofence_service
from geofence.models import ZoneKind
from officer_portal.rendering import PageOfficer, elsewhere, templates

router = APIRouter(include_in_schema=False)

ZONE_EDITORS = frozenset({Role.officer, Role.supervisor, Role.command, Role.admin})
KIND_LABELS = {
    ZoneKind.inclusion: ("电子墙 inclusion", "must stay inside"),
    ZoneKind.exclusion: ("禁入区 exclusion", "must stay out"),
    ZoneKind.poi: ("关注地点 place", "no rule"),
}
DECISION_LABELS = {"requested": "待审批 requested", "approved": "已批准 approved", "refused": "不批准 refused"}


def leave_window(starts_at: datetime, ends_at: datetime) -> str:
    """A leave's window in local time; one ending at midnight ends at 24:00 of its last day, as asked."""
    start, end = starts_at.astimezone(display_tz()), ends_at.astimezone(display_tz())
    last = (
        f"{(end - timedelta(days=1)):%Y-%m-%d} 24:00" if (end.hour, end.minute) == (0, 0) else f"{end:%Y-%m-%d %H:%M}"
    )
    return f"{start:%Y-%m-%d %H:%M} – {last}"


@router.get("/zones", response_class=HTMLResponse)
def zones_page(
    request: Request,
    session: SessionDep,
    officer: PageOfficer,
    supervisee_id: int | None = None,
    district_id: int | None = None,
) -> Response:
    if redirect := elsewhere(officer, ZONE_EDITORS):
        return redirect
    people = caseload_service.list_supervisees(session=session, viewer=officer, active=True, limit=2000)
    districts = caseload_service.list_districts(session=session, viewer=officer, limit=500)
    zones = [
        geofence_service.to_out(z)
        for z in geofence_service.list_zones(
            session=session, viewer=officer, supervisee_id=supervisee_id, district_id=district_id, limit=1000
        )
    ]
    leaves = geofence_leave.with_zones(
        session=session,
        leaves=geofence_leave.list_leaves(session=session, viewer=officer, supervisee_id=supervisee_id, limit=200),
    )
    names = {p.id: f"{p.code} {p.full_name}" for p in people}
    officers = {o.id: o.full_name for o in caseload_service.list_officers(session=session, viewer=officer, limit=5000)}
    return templates.TemplateResponse(
        request,
        "zone_editor.html",
        {
            "officer": officer,
            "people": people,
            "districts": districts,
            "zones": zones,
            "leaves": leaves,
            "names": names,
            "district_names": {d.id: d.name for d in districts},
            "officers": officers,
            "kind_labels": KIND_LABELS,
            "decision_labels": DECISION_LABELS,
            "supervisee_id": supervisee_id,
            "district_id": district_id,
            "leave_window": leave_window,
            "decides_leave": officer.role in geofence_service.DISTRICT_ZONE_EDITORS,
            "editor": {
                "zones": [z.model_dump(mode="json") for z in zones],
                "leaves": [leave.model_dump(mode="json") for leave in leaves if leave.decision != "refused"],
                "supervisee_id": supervisee_id,
                "district_id": district_id,
            },
        },
    )
