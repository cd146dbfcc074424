"""Alert API: the queue (list, inspect, acknowledge, escalate, resolve), alert policies, suspensions
and the officers' response-times report."""

from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request

from alerts import policy, publish, report, schemas, service, suspension
from alerts.models import AlertStatus
from caseload.auth import CurrentOfficer
from core.timezones import Moment, utcnow
from core.web import SessionDep, StaffPage, paged
from core.wire import AlertLevel

router = APIRouter(tags=["alerts"])
AlertPage = paged(default=200, maximum=2000)


@router.get("/alerts", response_model=list[schemas.AlertOut])
def list_alerts(
    session: SessionDep,
    viewer: CurrentOfficer,
    page: AlertPage,
    status: AlertStatus | None = None,
    level: AlertLevel | None = None,
    supervisee_id: int | None = None,
    since: Moment | None = None,
    escalated: bool | None = None,
):
    """Alerts in the caller's caseload and those escalated to them, newest first."""
    return service.list_alerts(
        session=session,
        viewer=viewer,
        status=status,
        level=level,
        supervisee_id=supervisee_id,
        since=since,
        escalated=escalated,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/alerts/{alert_id}", response_model=schemas.AlertOut)
def get_alert(alert_id: int, session: SessionDep, viewer: CurrentOfficer):
    """One alert."""
    return service.get(session=session, viewer=viewer, alert_id=alert_id)


@router.get("/alerts/{alert_id}/events", response_model=list[schemas.AlertEventOut])
def alert_events(alert_id: int, session: SessionDep, viewer: CurrentOfficer, page: StaffPage):
    """Every transition of one alert, oldest first."""
    return service.list_events(session=session, viewer=viewer, alert_id=alert_id, limit=page.limit, offset=page.offset)


def _announcer(request: Request, later: BackgroundTasks) -> Callable[[list[service.AlertChange]], None]:
    """Publishes an officer's committed changes to alerts.v1 once the answer is sent, so that every
    portal's live stream shows them."""
    return lambda changes: later.add_task(publish.announce, request.app.state.publisher, changes)


Announce = Annotated[Callable[[list[service.AlertChange]], None], Depends(_announcer)]


@router.post("/alerts/{alert_id}/ack", response_model=schemas.AlertOut)
def acknowledge(alert_id: int, data: schemas.AckIn, session: SessionDep, viewer: CurrentOfficer, announce: Announce):
    """Acknowledge an open alert, with an optional note."""
    alert, changes = service.acknowledge(session=session, viewer=viewer, alert_id=alert_id, note=data.note)
    session.commit()
    announce(changes)
    return alert


@router.post("/alerts/{alert_id}/escalate", response_model=schemas.AlertOut)
def escalate(alert_id: int, data: schemas.EscalateIn, session: SessionDep, viewer: CurrentOfficer, announce: Announce):
    """Pass an open or acknowledged alert up to the supervisor, with an optional note."""
    alert, changes = service.escalate(session=session, viewer=viewer, alert_id=alert_id, note=data.note)
    session.commit()
    announce(changes)
    return alert


@router.post("/alerts/{alert_id}/resolve", response_model=schemas.AlertOut)
def resolve(alert_id: int, data: schemas.ResolveIn, session: SessionDep, viewer: CurrentOfficer, announce: Announce):
    """Resolve an alert with a disposition."""
    alert, changes = service.resolve(
        session=session, viewer=viewer, alert_id=alert_id, disposition=data.disposition, note=data.note
    )
    session.commit()
    announce(changes)
    return alert


@router.get("/alert-policies", response_model=list[schemas.AlertPolicyOut], tags=["alert policies"])
def list_alert_policies(session: SessionDep, viewer: CurrentOfficer, page: StaffPage):
    """Threshold overrides of the caller's districts, and the risk-level ones that apply everywhere."""
    return policy.list_overrides(session=session, viewer=viewer, limit=page.limit, offset=page.offset)


@router.put("/alert-policies", response_model=schemas.AlertPolicyOut, tags=["alert policies"])
def put_alert_policy(data: schemas.AlertPolicyIn, session: SessionDep, viewer: CurrentOfficer):
    """Set the overrides of a district, a risk level, or a risk level within a district (supervisor,
    command; admin for a risk level everywhere). Replaces that scope's earlier overrides."""
    row = policy.upsert(
        session=session,
        viewer=viewer,
        district_id=data.district_id,
        risk_level=data.risk_level,
        thresholds=data.overridden(),
    )
    session.commit()
    return row


@router.delete("/alert-policies/{policy_id}", status_code=204, tags=["alert policies"])
def delete_alert_policy(policy_id: int, session: SessionDep, viewer: CurrentOfficer):
    """Remove an override; its scope falls back to the wider ones."""
    policy.delete(session=session, viewer=viewer, policy_id=policy_id)
    session.commit()


@router.get(
    "/supervisees/{supervisee_id}/alert-policy", response_model=schemas.EffectivePolicyOut, tags=["alert policies"]
)
def effective_alert_policy(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer):
    """The thresholds that apply to one person, and the overrides they come from."""
    effective, applied = policy.explain(session=session, viewer=viewer, supervisee_id=supervisee_id)
    return schemas.EffectivePolicyOut(
        supervisee_id=supervisee_id,
        thresholds=asdict(effective),
        applied=[schemas.AlertPolicyOut.model_validate(o) for o in applied],
    )


@router.post(
    "/supervisees/{supervisee_id}/alert-suspensions",
    response_model=schemas.SuspensionOut,
    status_code=201,
    tags=["alert suspensions"],
)
def suspend_alerts(supervisee_id: int, data: schemas.SuspensionIn, session: SessionDep, viewer: CurrentOfficer):
    """Suspend a person's new alerts from now until ``until`` (at most a few days), with a reason."""
    row = suspension.create(
        session=session, viewer=viewer, supervisee_id=supervisee_id, until=data.until, reason=data.reason
    )
    session.commit()
    return row


@router.get(
    "/supervisees/{supervisee_id}/alert-suspensions",
    response_model=list[schemas.SuspensionOut],
    tags=["alert suspensions"],
)
def list_alert_suspensions(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer, page: StaffPage):
    """A person's suspensions, newest first, with what each held back."""
    return suspension.list_suspensions(
        session=session, viewer=viewer, supervisee_id=supervisee_id, limit=page.limit, offset=page.offset
    )


@router.delete(
    "/supervisees/{supervisee_id}/alert-suspensions/{suspension_id}",
    response_model=schemas.SuspensionOut,
    tags=["alert suspensions"],
)
def lift_alert_suspension(supervisee_id: int, suspension_id: int, session: SessionDep, viewer: CurrentOfficer):
    """Lift a suspension early; the row stays, with when and by whom."""
    row = suspension.lift(session=session, viewer=viewer, supervisee_id=supervisee_id, suspension_id=suspension_id)
    session.commit()
    return row


@router.get("/reports/response-times", response_model=list[schemas.ResponseTimeOut], tags=["reports"])
def response_times(
    session: SessionDep,
    viewer: CurrentOfficer,
    page: StaffPage,
    since: Moment | None = None,
    until: Moment | None = None,
    district_id: int | None = None,
):
    """Per officer: alerts assigned, answered, median and p90 minutes to the answer, within the SLA,
    escalated, still open; for alerts that started in [since, until) (default: the last 30 days)."""
    until = until or utcnow()
    rows = report.response_times(
        session=session, viewer=viewer, since=since or until - timedelta(days=30), until=until, district_id=district_id
    )
    return rows[page.offset : page.offset + page.limit]
