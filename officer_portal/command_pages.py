"""The command-centre view: districts, officers' open and overdue alerts, platform alerts, and a map of
everyone's latest position coloured by their worst open alert. Read-only: actions on alerts are the
alert pages'."""

from collections import Counter
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from alerts import service as alerts_service
from caseload import monitoring as caseload_monitoring
from caseload import service as caseload_service
from caseload.models import District
from core.config import get_settings
from core.security import Role
from core.timezones import utcnow
from core.web import SessionDep
from core.wire import AlertLevel
from officer_portal.rendering import PageOfficer, elsewhere, templates
from tracker_ingest import positions

router = APIRouter(include_in_schema=False)
COMMAND_ROLES = frozenset({Role.supervisor, Role.command, Role.admin})
# On the map: 0 no open alert, 1 yellow, 2 red (static/command.js colours them).
LEVEL_CODES = {AlertLevel.yellow: 1, AlertLevel.red: 2}
STALE_AFTER_MIN = 30


@dataclass
class DistrictRow:
    district: District
    depth: int
    supervisees: int = 0
    monitored: int = 0
    alerts: Counter = field(default_factory=Counter)  # red, yellow, overdue, platform


def _tree_order(districts: list[District]) -> list[tuple[District, int]]:
    """Districts parent before children, with their depth below the viewer's top."""
    by_parent: dict[int | None, list[District]] = {}
    ids = {d.id for d in districts}
    for d in districts:
        by_parent.setdefault(d.parent_id if d.parent_id in ids else None, []).append(d)
    ordered: list[tuple[District, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for d in sorted(by_parent.get(parent, []), key=lambda d: d.code):
            ordered.append((d, depth))
            walk(d.id, depth + 1)

    walk(None, 0)
    return ordered


@router.get("/command", response_class=HTMLResponse)
def command_centre(request: Request, session: SessionDep, officer: PageOfficer) -> Response:
    if r := elsewhere(officer, COMMAND_ROLES):
        return r
    now = utcnow()
    districts = list(caseload_service.list_districts(session=session, viewer=officer))
    ids = [d.id for d in districts]
    rows = {d.id: DistrictRow(d, depth) for d, depth in _tree_order(districts)}
    for district_id, n in caseload_service.active_counts(session=session, district_ids=ids).items():
        rows[district_id].supervisees = n
    for district_id, n in caseload_monitoring.monitored_counts(session=session, district_ids=ids).items():
        rows[district_id].monitored = n

    open_alerts = alerts_service.open_alerts_overview(session=session, viewer=officer, now=now)
    people = {a.supervisee_id for a in open_alerts if a.supervisee_id is not None}
    homes = {
        sid: d for sid, (d, _risk) in caseload_service.risk_profiles(session=session, supervisee_ids=people).items()
    }
    per_officer: dict[int | None, Counter] = {}
    worst: dict[int, AlertLevel] = {}
    for a in open_alerts:
        counts = Counter({a.level.value: 1, "overdue": int(a.overdue)})
        if (row := rows.get(homes.get(a.supervisee_id, a.district_id))) is not None:
            row.alerts.update(counts)
        per_officer.setdefault(a.assignee_id, Counter()).update({**counts, "open": 1})
        if a.supervisee_id is not None and worst.get(a.supervisee_id) != AlertLevel.red:
            worst[a.supervisee_id] = a.level

    officers = caseload_service.list_officers(session=session, viewer=officer)
    names = {o.id: (o.username, o.full_name) for o in officers}
    names |= caseload_service.officer_names(session=session, officer_ids=[i for i in per_officer if i not in names])
    workload = sorted(
        (
            (names.get(oid, ("—", "未分配 unassigned")), counts)
            for oid, counts in per_officer.items()
            if oid is None or oid in names
        ),
        key=lambda item: (-item[1]["overdue"], -item[1]["red"], -item[1]["open"]),
    )
    idle = [o for o in officers if o.id not in per_officer and o.active and o.role in (Role.officer, Role.supervisor)]

    live = positions.read_live_positions(session, viewer=officer, via="command")
    session.commit()
    people_names = caseload_service.supervisee_names(session=session, supervisee_ids=[p.supervisee_id for p in live])
    stale_before = now.timestamp() - STALE_AFTER_MIN * 60
    points = [
        [
            round(p.lat, 6),
            round(p.lon, 6),
            LEVEL_CODES.get(worst.get(p.supervisee_id), 0),
            int(p.ts.timestamp() < stale_before),
            *people_names.get(p.supervisee_id, ("?", "?")),
        ]
        for p in live
    ]
    district_names = {d.id: d.name for d in districts}
    return templates.TemplateResponse(
        request,
        "command_centre.html",
        {
            "officer": officer,
            "rows": list(rows.values()),
            "totals": {
                "supervisees": sum(r.supervisees for r in rows.values()),
                "monitored": sum(r.monitored for r in rows.values()),
                **sum((r.alerts for r in rows.values()), Counter()),
            },
            "workload": workload,
            "idle": idle,
            "platform_alerts": [a for a in open_alerts if a.supervisee_id is None],
            "district_names": district_names,
            "map_data": {"points": points, "tz": get_settings().display_tz, "stale_min": STALE_AFTER_MIN},
            "rendered_at": now,
        },
    )
