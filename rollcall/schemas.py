"""Wire formats of the roll-call API (点名): issuing, reading roll calls and their targets, excusing,
the scheduled rules and the statistics."""

import enum
from datetime import date, datetime, time
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from caseload.models import Category, RiskLevel
from rollcall.config import Minutes
from rollcall.models import AnswerVia, Period, RollCallKind, RollCallMode, TargetStatus, Verification

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Message = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def _local(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a local time of day (Asia/Shanghai) without an offset, such as 08:00")
    return value


# JSON Schema's "time" format is RFC 3339's, which requires an offset; a rule's window is a local time.
LocalTime = Annotated[
    time,
    AfterValidator(_local),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
            "description": "a local time of day (Asia/Shanghai), HH:MM or HH:MM:SS",
        }
    ),
]
# One roll call names at most this many people one by one (a district or filter has no limit).
MAX_LISTED = 100_000


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AudienceFilter(BaseModel):
    """People matching every field given (within what the issuer may see)."""

    model_config = ConfigDict(extra="forbid")

    district_id: int | None = None
    risk_level: RiskLevel | None = None
    category: Category | None = None
    officer_id: int | None = None

    @model_validator(mode="after")
    def _something(self) -> "AudienceFilter":
        if not self.model_dump(exclude_none=True):
            raise ValueError("give at least one of district_id, risk_level, category, officer_id")
        return self


class Audience(BaseModel):
    """Who is called: exactly one of a list of people, an officer's caseload, a district (with its
    sub-districts) or a filter."""

    model_config = ConfigDict(extra="forbid")

    supervisee_ids: Annotated[list[int], Field(min_length=1, max_length=MAX_LISTED)] | None = None
    officer_id: int | None = None
    district_id: int | None = None
    filter: AudienceFilter | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "Audience":
        given = [name for name, value in self if value is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of supervisee_ids, officer_id, district_id, filter"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class RollCallIn(BaseModel):
    mode: RollCallMode
    audience: Audience
    deadline_min: Minutes | None = Field(None, description="on time within this many minutes (default per mode)")
    close_min: Minutes | None = Field(None, description="late until this many minutes, then missed (>= deadline_min)")
    office_date: date | None = Field(None, description="office (报到) mode: the day to check in (Asia/Shanghai)")
    message: Message | None = Field(None, description="shown on the person's phone page")

    @model_validator(mode="after")
    def _consistent(self) -> "RollCallIn":
        if self.deadline_min is not None and self.close_min is not None and self.close_min < self.deadline_min:
            raise ValueError(f"close_min ({self.close_min}) must not be less than deadline_min ({self.deadline_min})")
        if self.mode == RollCallMode.office and self.office_date is None:
            raise ValueError("an office (报到) roll call needs office_date")
        if self.mode != RollCallMode.office and self.office_date is not None:
            raise ValueError("office_date is only for mode office")
        return self


class RollCallStatus(enum.StrEnum):
    open = "open"  # answers still count (before closes_at)
    closed = "closed"  # past closes_at
    cancelled = "cancelled"


class RollCallOut(Out):
    id: int
    kind: RollCallKind
    mode: RollCallMode
    status: RollCallStatus = Field(description="open (answers still count), closed or cancelled")
    district_id: int | None
    issued_by: int | None
    rule_id: int | None
    audience: dict
    message: str | None
    issued_at: datetime
    deadline_at: datetime
    closes_at: datetime
    office_date: date | None
    deadline_min: int
    close_min: int
    cancelled_at: datetime | None
    target_count: int = Field(description="everyone called")
    counts: dict[TargetStatus, int] = Field(description="the caller's visible targets by status")


class TargetOut(Out):
    id: int
    roll_call_id: int
    supervisee_id: int
    person_code: str
    person_name: str
    status: TargetStatus
    deadline_at: datetime
    closes_at: datetime
    delivered_at: datetime | None
    answered_at: datetime | None
    answered_via: AnswerVia | None
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    camera_id: int | None
    # The tracker's fix compared with the answer (人机分离), WGS-84.
    tracker_lat: float | None
    tracker_lon: float | None
    tracker_distance_m: float | None
    separated: bool | None
    verification: Verification
    has_photo: bool
    excused_reason: str | None


class ExcuseIn(BaseModel):
    reason: Reason


class RuleIn(BaseModel):
    district_id: int
    risk_level: RiskLevel
    mode: RollCallMode = RollCallMode.phone
    period: Period = Period.day
    times_per_period: Annotated[int, Field(ge=1, le=24)] = 1
    window_start: LocalTime = Field(time(8), description="local time (Asia/Shanghai) the window opens")
    window_end: LocalTime = Field(time(22), description="local time the window closes (after window_start)")
    deadline_min: Minutes | None = None
    close_min: Minutes | None = None
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> "RuleIn":
        check_rule(self)
        return self


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    risk_level: RiskLevel | None = None
    mode: RollCallMode | None = None
    period: Period | None = None
    times_per_period: Annotated[int, Field(ge=1, le=24)] | None = None
    window_start: LocalTime | None = None
    window_end: LocalTime | None = None
    deadline_min: Minutes | None = None
    close_min: Minutes | None = None
    active: bool | None = None


def check_rule(rule: RuleIn | RuleUpdate) -> None:
    """The checks a rule's fields need together (an update is checked after merging, in the service)."""
    if rule.mode == RollCallMode.office:
        raise ValueError("scheduled roll calls are phone or camera: an office (报到) day is set ad hoc")
    if rule.window_start is not None and rule.window_end is not None and rule.window_end <= rule.window_start:
        raise ValueError(f"window_end ({rule.window_end}) must be after window_start ({rule.window_start})")
    if rule.deadline_min is not None and rule.close_min is not None and rule.close_min < rule.deadline_min:
        raise ValueError(f"close_min ({rule.close_min}) must not be less than deadline_min ({rule.deadline_min})")


class RuleOut(Out):
    id: int
    district_id: int
    risk_level: RiskLevel
    mode: RollCallMode
    period: Period
    times_per_period: int
    window_start: LocalTime
    window_end: LocalTime
    deadline_min: int
    close_min: int
    active: bool
    created_by: int | None
    updated_at: datetime
    planned: list[datetime] = Field(description="the times drawn for this period not issued yet (UTC)")
    planned_until: datetime | None


class StatsRow(BaseModel):
    id: int
    name: str
    called: int
    answered: int = Field(description="answered by the deadline")
    late: int
    missed: int
    excused: int
    pending: int
    answer_rate: float | None = Field(description="(answered + late) / (called - excused - pending)")
    median_delay_s: float | None = Field(description="median seconds from the call to the answer")


class StatsOut(BaseModel):
    since: datetime
    until: datetime
    officers: list[StatsRow]
    districts: list[StatsRow]
