"""Alert wire formats."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from alerts.models import AlertStatus, Disposition
from core.db import AlertLevel

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    supervisee_id: int
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


class AckIn(BaseModel):
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
