"""Electronic monitoring periods (社区矫正法 art. 29): approve, renew, release, and what ends soon."""

from typing import Annotated

from fastapi import APIRouter, Query

from caseload import monitoring, schemas
from caseload.auth import CurrentOfficer
from core.config import get_settings
from core.web import SessionDep

router = APIRouter(tags=["monitoring"])
PERIODS = "/supervisees/{supervisee_id}/monitoring-periods"


@router.get(PERIODS, response_model=list[schemas.MonitoringPeriodOut])
def list_periods(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer):
    """A person's monitoring periods and renewals, oldest first, released ones included."""
    return monitoring.list_periods(session=session, viewer=viewer, supervisee_id=supervisee_id)


@router.post(PERIODS, response_model=schemas.MonitoringPeriodOut, status_code=201)
def create_period(supervisee_id: int, data: schemas.MonitoringPeriodIn, session: SessionDep, viewer: CurrentOfficer):
    """Approve a period of at most 3 months (supervisor, command or admin: the caller is the approver)."""
    period = monitoring.create_period(session=session, viewer=viewer, supervisee_id=supervisee_id, data=data)
    session.commit()
    return period


@router.post(PERIODS + "/{period_id}/renew", response_model=schemas.MonitoringPeriodOut, status_code=201)
def renew_period(
    supervisee_id: int, period_id: int, data: schemas.MonitoringRenewalIn, session: SessionDep, viewer: CurrentOfficer
):
    """Approve a renewal of at most 3 months, from the day after the period renewed ends."""
    period = monitoring.renew_period(
        session=session, viewer=viewer, supervisee_id=supervisee_id, period_id=period_id, data=data
    )
    session.commit()
    return period


@router.post(PERIODS + "/{period_id}/release", response_model=list[schemas.MonitoringPeriodOut])
def release_period(
    supervisee_id: int, period_id: int, data: schemas.MonitoringReleaseIn, session: SessionDep, viewer: CurrentOfficer
):
    """解除: end monitoring now (this period and the renewals after it)."""
    released = monitoring.release_period(
        session=session, viewer=viewer, supervisee_id=supervisee_id, period_id=period_id, data=data
    )
    session.commit()
    return released


@router.get("/monitoring/ending", response_model=list[schemas.MonitoringEnding])
def list_ending(
    session: SessionDep,
    viewer: CurrentOfficer,
    within_days: Annotated[int | None, Query(ge=0, le=92)] = None,
):
    """The caller's caseload whose monitoring ends within so many days (default EWALL_MONITORING_REMINDER_DAYS)."""
    days = get_settings().monitoring_reminder_days if within_days is None else within_days
    return monitoring.list_ending(session=session, viewer=viewer, within_days=days)
