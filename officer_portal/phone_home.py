"""What the supervisee's phone page shows (#16), read from the domains' services: the person's status
in plain words (never raw alerts), their roll calls, 报到 dates, leaves and messages; and the leave
request and return they make from it."""

import math
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from alerts import rules
from alerts import service as alerts_service
from caseload import messages, phone_page, sources
from caseload.models import Supervisee
from caseload.phone_page import PhoneCallerInfo
from caseload.phone_schemas import MessageOut
from core.config import get_settings
from core.timezones import display_tz, utcnow
from geofence import leave as geofence_leave
from geofence import schemas as geofence_schemas
from geofence.models import LeaveDecision
from rollcall import service as rollcall_service
from rollcall.models import RollCallMode
from tracker_ingest import positions

PHONE_LEAVES = 10
NEAREST_CAMERAS = 3
CIRCLE_VERTICES = 48
EARTH_RADIUS_M = 6_371_008.8
AWAY = {rules.INCLUSION_EXIT, rules.CURFEW_BREACH}
# What the person sees of their leaves (not who decided: the officer's note is enough).
LEAVE_FIELDS = {"id", "destination_name", "starts_at", "ends_at", "reason", "decision", "decision_note", "returned_at"}


def status_words(
    *, ongoing: set[str], leave_until: datetime | None, last_fix_at: datetime | None, now: datetime
) -> dict:
    """The status card: whether the person is where they should be, in words a person reads at a glance."""
    if rules.EXCLUSION_ENTRY in ongoing:
        return {"in_area": False, "words": "你已进入禁止区域，请立即离开"}
    if ongoing & AWAY:
        return {"in_area": False, "words": "你已离开规定区域，请尽快返回"}
    if leave_until is not None:
        return {"in_area": True, "words": f"请假外出中（至 {_month_day_time(leave_until)}）"}
    if last_fix_at is None or now - last_fix_at > timedelta(minutes=get_settings().map_stale_after_min):
        return {"in_area": None, "words": "暂无定位"}
    return {"in_area": True, "words": "你在规定区域内"}


def _month_day_time(ts: datetime) -> str:
    local = ts.astimezone(display_tz())
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _leave_in_force(leaves: list[geofence_schemas.LeaveOut], now: datetime) -> datetime | None:
    for leave in leaves:
        approved = leave.decision == LeaveDecision.approved and leave.returned_at is None
        if approved and leave.starts_at <= now < leave.ends_at:
            return leave.ends_at
    return None


def _leave_view(leave: geofence_schemas.LeaveOut) -> dict:
    return leave.model_dump(mode="json", include=LEAVE_FIELDS)


def _pending_rollcalls(session: Session, person: Supervisee, last) -> list[dict]:
    """The roll calls to answer now; a camera-mode one lists the cameras nearest the person."""
    pending, cameras = [], None
    for call in rollcall_service.pending_for(session=session, supervisee_id=person.id):
        shown = {
            "target_id": call.target_id,
            "mode": call.mode.value,
            "message": call.message,
            "deadline_at": call.deadline_at.isoformat(),
            "closes_at": call.closes_at.isoformat(),
        }
        if call.mode == RollCallMode.camera:
            if cameras is None:
                cameras = sources.nearest_cameras(
                    session=session,
                    district_id=person.district_id,
                    lat=last.lat if last else None,
                    lon=last.lon if last else None,
                    limit=NEAREST_CAMERAS,
                )
            shown["nearest_cameras"] = [asdict(c) for c in cameras]
        pending.append(shown)
    return pending


def home(*, session: Session, caller: PhoneCallerInfo) -> dict:
    """Everything the phone page's home shows, in one read."""
    person = phone_page.get_supervisee(session=session, supervisee_id=caller.supervisee_id)
    now = utcnow()
    leaves = geofence_leave.list_own(session=session, supervisee=person, limit=PHONE_LEAVES)
    last = next(iter(positions.live_positions(session, supervisee_ids=[person.id])), None)
    status = status_words(
        ongoing=alerts_service.ongoing_rules(session=session, supervisee_id=person.id),
        leave_until=_leave_in_force(leaves, now),
        last_fix_at=last.ts if last else None,
        now=now,
    )
    return {
        "supervisee": {"name": person.full_name, "code": person.code},
        "status": status,
        "pending_rollcalls": _pending_rollcalls(session, person, last),
        "office_dates": [
            {"target_id": c.target_id, "office_date": c.office_date.isoformat(), "message": c.message}
            for c in rollcall_service.upcoming_office(session=session, supervisee_id=person.id)
        ],
        "leaves": [_leave_view(leave) for leave in leaves],
        "messages": [
            MessageOut.model_validate(m).model_dump(mode="json", include={"id", "body", "sent_at", "read_at"})
            for m in messages.for_phone(session=session, supervisee_id=person.id)
        ],
    }


def circle(lat: float, lon: float, radius_m: float) -> dict:
    """A GeoJSON polygon approximating the circle (metres are small against the Earth: a local
    equirectangular offset is exact to well under a metre at leave sizes)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    ring = [
        [
            round(lon + dlon * math.cos(2 * math.pi * i / CIRCLE_VERTICES), 7),
            round(lat + dlat * math.sin(2 * math.pi * i / CIRCLE_VERTICES), 7),
        ]
        for i in range(CIRCLE_VERTICES)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def request_leave(*, session: Session, caller: PhoneCallerInfo, data: geofence_schemas.PhoneLeaveIn) -> dict:
    """请假 from the phone: the leave request an officer then approves or refuses."""
    person = phone_page.get_supervisee(session=session, supervisee_id=caller.supervisee_id)
    asked = geofence_schemas.LeaveIn(
        supervisee_id=person.id,
        destination=circle(data.lat, data.lon, data.radius_m),
        **data.model_dump(include=set(geofence_schemas.LeaveRequest.model_fields)),
    )
    made = geofence_leave.request(session=session, requester=person, data=asked)
    return _leave_view(geofence_leave.to_out(made, None))


def report_return(*, session: Session, caller: PhoneCallerInfo, leave_id: int) -> None:
    """销假 from the phone."""
    person = phone_page.get_supervisee(session=session, supervisee_id=caller.supervisee_id)
    geofence_leave.report_return(session=session, supervisee=person, leave_id=leave_id)
