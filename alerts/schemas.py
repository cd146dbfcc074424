"""Alert wire formats."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from alerts.models import AlertStatus, Disposition
from alerts.policy import Thresholds
from caseload.models import RiskLevel
from core.timezones import plausible
from core.wire import AlertLevel

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    supervisee_id: int | None  # None for a platform alert (a gateway or district gone silent)
    district_id: int | None  # a platform alert's district
    gateway_id: int | None
    zone_id: int | None
    rule: str
    level: AlertLevel
    status: AlertStatus
    started_at: datetime
    last_evidence_at: datetime
    ended_at: datetime | None
    evidence: dict
    assignee_id: int | None
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    ack_note: str | None
    resolved_at: datetime | None
    resolved_by: int | None
    disposition: Disposition | None
    resolution_note: str | None
    escalated_at: datetime | None
    escalated_to: int | None
    created_at: datetime  # when the platform wrote it (its transaction's start)
    updated_at: datetime


class AckIn(BaseModel):
    note: Note | None = None


class EscalateIn(BaseModel):
    note: Note | None = None


class ResolveIn(BaseModel):
    disposition: Disposition
    note: Note | None = None


class AlertEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    actor: str
    detail: dict


class AlertPolicyIn(BaseModel):
    district_id: int | None = None
    risk_level: RiskLevel | None = None
    thresholds: Thresholds

    @model_validator(mode="after")
    def scoped_and_not_empty(self):
        if self.district_id is None and self.risk_level is None:
            raise ValueError("name a district_id, a risk_level or both")
        if not self.thresholds.model_fields_set:
            raise ValueError("thresholds is empty; give at least one, or DELETE the override")
        return self

    def overridden(self) -> dict:
        return self.thresholds.model_dump(exclude_unset=True)


class AlertPolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    district_id: int | None
    risk_level: RiskLevel | None
    thresholds: dict
    updated_at: datetime


class EffectivePolicyOut(BaseModel):
    supervisee_id: int
    thresholds: dict = Field(description="every threshold as it applies to this person")
    applied: list[AlertPolicyOut] = Field(description="the overrides it was built from, in the order they apply")


class SuspensionIn(BaseModel):
    until: Annotated[AwareDatetime, AfterValidator(plausible)]
    reason: Note


class SuspensionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    supervisee_id: int
    from_at: datetime
    until_at: datetime
    reason: str
    created_by: int | None
    created_at: datetime
    ended_at: datetime | None
    ended_by: int | None
    suppressed: dict = Field(description="per episode key: rule, highest level, count, first_at, last_at")


class ResponseTimeOut(BaseModel):
    officer_id: int
    username: str
    full_name: str
    assigned: int
    acknowledged: int = Field(description="answered: acknowledged, or resolved without an acknowledgement")
    median_min: float | None = Field(description="minutes from the alert's start to the answer")
    p90_min: float | None
    resolved: int = Field(description="resolved, with or without an acknowledgement first")
    resolve_median_min: float | None = Field(description="minutes from the alert's start to its resolve")
    resolve_p90_min: float | None
    within_sla: int
    overdue: int = Field(description="answered after the deadline, or not answered and past it")
    escalated: int
    still_open: int = Field(description="neither acknowledged nor resolved yet")
