"""What the live caseload map starts from, read through the domains' services with the viewer's
scope: everyone in the caseload with their last position and worst open alert, the officers to
filter by, and the latest open alerts for the list beside the map. The page embeds it, so the first
render needs no second request."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from alerts import service as alerts_service
from alerts.models import Alert, AlertStatus
from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer
from core.security import Role
from tracker_ingest import positions

MAX_CASELOAD = 20_000  # people on one map; a province's caseload is about 10,000
LISTED_ALERTS = 100  # open alerts listed beside the map, per status; the queue page has them all


@dataclass(frozen=True)
class MapStart:
    # One row per person: [id, code, name, officer id, category, risk, level, lat, lon, fix ms, accuracy m];
    # lat, lon, fix time and accuracy are null for someone who never reported.
    people: list[list]
    officers: list[tuple[int, str]]
    alerts: Sequence[Alert]
    names: dict[int, tuple[str, str]]


def _officers(session: Session, viewer: Officer, officer_ids: set[int]) -> list[tuple[int, str]]:
    if viewer.role == Role.officer:
        return [(viewer.id, viewer.full_name)]
    known = {o.id: o.full_name for o in caseload_service.list_officers(session=session, viewer=viewer)}
    return sorted(((i, known.get(i, f"#{i}")) for i in officer_ids), key=lambda o: o[1])


def open_alerts(session: Session, viewer: Officer) -> list[Alert]:
    """The latest open and acknowledged alerts the viewer may see, red first, then newest first."""
    found = [
        a
        for status in (AlertStatus.open, AlertStatus.acknowledged)
        for a in alerts_service.list_alerts(session=session, viewer=viewer, status=status, limit=LISTED_ALERTS)
    ]
    return sorted(found, key=lambda a: (a.level != "red", -a.started_at.timestamp(), -a.id))


def start(session: Session, viewer: Officer) -> MapStart:
    """The map's data for the viewer; the read of positions is audited like the API's."""
    people = caseload_service.roster(session=session, viewer=viewer, limit=MAX_CASELOAD)
    last = {p.supervisee_id: p for p in positions.read_live_positions(session, viewer=viewer, via="map")}
    # The caseload as a subquery, not 10,000 bound parameters (0.1–0.3 s instead of 0.7 s here).
    levels = alerts_service.open_level_by_supervisee(
        session=session, supervisee_ids=caseload_scope.visible_supervisee_ids(session=session, viewer=viewer)
    )
    rows = []
    for p in people:
        fix = last.get(p.id)
        where = [fix.lat, fix.lon, int(fix.ts.timestamp() * 1000), fix.accuracy_m] if fix else [None, None, None, None]
        rows.append([p.id, p.code, p.full_name, p.officer_id, p.category, p.risk_level, levels.get(p.id), *where])
    alerts = open_alerts(session, viewer)
    names = caseload_service.supervisee_names(
        session=session, supervisee_ids=list({a.supervisee_id for a in alerts if a.supervisee_id is not None})
    )
    officers = _officers(session, viewer, {p.officer_id for p in people if p.officer_id is not None})
    return MapStart(rows, officers, alerts, names)
