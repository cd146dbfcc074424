"""Alert queue API: list, inspect, acknowledge, resolve."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from alerts import schemas, service
from alerts.models import AlertStatus
from caseload.auth import CurrentOfficer
from core.db import AlertLevel
from core.web import SessionDep

router = APIRouter(tags=["alerts"])


@router.get("/alerts", response_model=list[schemas.AlertOut])
def list_alerts(
    session: SessionDep,
    viewer: CurrentOfficer,
    status: AlertStatus | None = None,
    level: AlertLevel | None = None,
    supervisee_id: int | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """Alerts in the caller's caseload, newest first."""
    return service.list_alerts(
        session=session,
        viewer=viewer,
        status=status,
        level=level,
        supervisee_id=supervisee_id,
        since=since,
        limit=limit,
        offset=offset,
    )


@router.get("/alerts/{alert_id}", response_model=schemas.AlertOut)
def get_alert(alert_id: int, session: SessionDep, viewer: CurrentOfficer):
    """One alert."""
    return service.get(session=session, viewer=viewer, alert_id=alert_id)


@router.get("/alerts/{alert_id}/events", response_model=list[schemas.AlertEventOut])
def alert_events(alert_id: int, session: SessionDep, viewer: CurrentOfficer):
    """Every transition of one alert, oldest first."""
    return service.list_events(session=session, viewer=viewer, alert_id=alert_id)


@router.post("/alerts/{alert_id}/ack", response_model=schemas.AlertOut)
def acknowledge(alert_id: int, data: schemas.AckIn, session: SessionDep, viewer: CurrentOfficer):
    """Acknowledge an open alert, with an optional note."""
    alert = service.acknowledge(session=session, viewer=viewer, alert_id=alert_id, note=data.note)
    session.commit()
    return alert


@router.post("/alerts/{alert_id}/resolve", response_model=schemas.AlertOut)
def resolve(alert_id: int, data: schemas.ResolveIn, session: SessionDep, viewer: CurrentOfficer):
    """Resolve an alert with a disposition."""
    alert = service.resolve(
        session=session, viewer=viewer, alert_id=alert_id, disposition=data.disposition, note=data.note
    )
    session.commit()
    return alert
