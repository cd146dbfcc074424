"""Zone wire format: GeoJSON geometry in and out."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from core.timezones import Moment
from core.wire import AlertLevel
from geofence.models import ZoneKind
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
    active: bool
    updated_at: datetime
