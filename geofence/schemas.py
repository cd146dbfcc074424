"""Zone wire format: GeoJSON geometry in and out."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from core.timezones import Moment
from core.wire import AlertLevel
from geofence.models import LeaveDecision, ZoneKind
from geofence.schedule import Schedule

GeoJSONGeometry = dict[str, Any]


def _checked_schedule(raw: dict | None) -> dict | None:
    if raw is not None:
        Schedule.parse(raw)  # ScheduleError is a ValueError: a 422 that names the bad part
    return raw


ZoneSchedule = Annotated[
    dict[str, Any] | None,
    AfterValidator(_checked_schedule),
    Field(
        description='Weekly windows in local time with dated exceptions, e.g. a curfew: {"weekly": '
        '[{"days": [0,1,2,3,4,5,6], "from": "22:00", "to": "06:00"}], "exceptions": '
        '[{"date": "2026-12-31", "windows": []}]}; days 0 = Monday. Null: always in force.'
    ),
]
Priority = Annotated[int, Field(ge=-1000, le=1000, description="Among inclusion zones in force, the highest bind")]


class ZoneIn(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    kind: ZoneKind
    supervisee_id: int | None = None
    district_id: int | None = None
    geometry: GeoJSONGeometry = Field(description="GeoJSON Polygon or MultiPolygon, WGS-84 lon/lat")
    buffer_m: Annotated[float, Field(ge=0, le=50_000)] = 0
    valid_from: Moment | None = None
    valid_to: Moment | None = None
    severity: AlertLevel = AlertLevel.yellow
    schedule: ZoneSchedule = None
    priority: Priority = 0
    travel_leave: bool = Field(
        False, description="请假外出: approved travel leave for one person, from valid_from to valid_to or the return"
    )

    @model_validator(mode="after")
    def one_owner(self):
        if (self.supervisee_id is None) == (self.district_id is None):
            raise ValueError("give exactly one owner: supervisee_id or district_id")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        if self.travel_leave and (
            self.kind != ZoneKind.inclusion or self.supervisee_id is None or not (self.valid_from and self.valid_to)
        ):
            raise ValueError("travel leave is an inclusion zone of one supervisee with valid_from and valid_to")
        return self


class ZoneUpdate(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | None = None
    geometry: GeoJSONGeometry | None = None
    buffer_m: Annotated[float, Field(ge=0, le=50_000)] | None = None
    valid_from: Moment | None = None
    valid_to: Moment | None = None
    severity: AlertLevel | None = None
    schedule: ZoneSchedule = None
    priority: Priority | None = None
    active: bool | None = None


class ZoneOut(BaseModel):
    id: int
    name: str
    kind: ZoneKind
    supervisee_id: int | None
    district_id: int | None
    geometry: GeoJSONGeometry
    buffer_m: float
    valid_from: datetime | None
    valid_to: datetime | None
    severity: AlertLevel
    schedule: dict[str, Any] | None
    priority: int
    travel_leave: bool
    returned_at: datetime | None
    returned_by: int | None = Field(None, description="the officer who recorded the return (销假)")
    active: bool
    updated_at: datetime


Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class LeaveRequest(BaseModel):
    """What every leave request says: the destination's name, the window and the reason."""

    destination_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    starts_at: Moment
    ends_at: Moment
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def in_order(self):
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class LeaveIn(LeaveRequest):
    """请假外出: where to, when, and why; a supervisor approves or refuses it."""

    supervisee_id: int
    destination: GeoJSONGeometry = Field(description="the area travelled to: GeoJSON Polygon or MultiPolygon, WGS-84")


class PhoneLeaveIn(LeaveRequest):
    """请假 from the supervisee's phone page (#16): the destination as a place and a radius around it."""

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    radius_m: Annotated[float, Field(ge=100, le=50_000, description="the area around the place, in metres")]


class LeaveDecisionIn(BaseModel):
    note: Note = ""


class LeaveRefusalIn(BaseModel):
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] = Field(
        description="why it is refused: the officer tells the person"
    )


class LeaveOut(BaseModel):
    id: int
    supervisee_id: int
    destination: GeoJSONGeometry
    destination_name: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    requested_by: int | None = Field(description="the officer who asked; null: the supervisee, from their phone")
    requested_at: datetime
    decision: LeaveDecision
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str | None
    zone_id: int | None = Field(description="the leave zone an approval made")
    returned_at: datetime | None = Field(description="销假: when the return was recorded")
    returned_by: int | None
