"""Wire formats of the portal's own endpoints."""

from datetime import datetime

from pydantic import BaseModel

from alerts.models import AlertStatus
from core.wire import AlertLevel


class AlertNotice(BaseModel):
    """One alert change on the live stream (``event: alert``): what happened, and what the alert
    queue shows of the alert now."""

    alert_id: int
    supervisee_id: int | None  # None for a platform alert (a gateway or district gone silent)
    # opened, level_raised, ended, acknowledged, escalated, resolved…; "sync" when re-sent on
    # reconnecting: the alert's current state, whatever happened to it meanwhile.
    kind: str
    level: AlertLevel
    status: AlertStatus
    rule: str
    started_at: datetime
    ended_at: datetime | None
    updated_at: datetime
    supervisee_code: str
    supervisee_name: str
