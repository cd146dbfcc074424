"""Roll-call API for staff (点名): issue, read, cancel, excuse."""

from fastapi import APIRouter, Request, status

from caseload.auth import CurrentOfficer
from core import bus
from core.logs import configure
from core.timezones import Moment
from core.web import SessionDep, StaffPage, paged
from rollcall import issue, schedule, schemas, service, stats
from rollcall.models import RollCallMode, TargetStatus

router = APIRouter(tags=["roll calls"])
log = configure("ewall.rollcall.api")
RollCallPage = paged(default=100, maximum=1000)


@router.post("/rollcalls", response_model=schemas.RollCallOut, status_code=status.HTTP_201_CREATED)
def issue_roll_call(data: schemas.RollCallIn, request: Request, session: SessionDep, viewer: CurrentOfficer):
    """Call people to answer: one person, a list, an officer's caseload, a district or a filter,
    within the caller's caseload. Delivered to their phone pages once committed."""
    roll_call = issue.issue(
        session=session,
        issuer=viewer,
        mode=data.mode,
        audience=data.audience.model_dump(mode="json", exclude_none=True),
        deadline_min=data.deadline_min,
        close_min=data.close_min,
        office_date=data.office_date,
        message=data.message,
    )
    session.commit()
    try:
        issue.deliver(session=session, publisher=request.app.state.publisher, roll_call=roll_call)
    except bus.BrokerUnavailable as exc:
        # The roll call stands; the phone pages show it on their next load and the worker delivers it.
        log.warning("roll call %d not delivered yet (%s); the rollcall worker retries", roll_call.id, exc)
    return service.get_roll_call(session, viewer, roll_call.id)


@router.get("/rollcalls", response_model=list[schemas.RollCallOut])
def list_roll_calls(
    session: SessionDep,
    viewer: CurrentOfficer,
    page: RollCallPage,
    status: schemas.RollCallStatus | None = None,
    mode: RollCallMode | None = None,
    since: Moment | None = None,
):
    """Roll calls with someone in the caller's caseload, newest first."""
    return service.list_roll_calls(
        session=session, viewer=viewer, status=status, mode=mode, since=since, limit=page.limit, offset=page.offset
    )


@router.get("/rollcalls/stats", response_model=schemas.StatsOut)
def roll_call_stats(
    session: SessionDep,
    viewer: CurrentOfficer,
    since: Moment | None = None,
    until: Moment | None = None,
    district_id: int | None = None,
):
    """Per officer and per district: called, answered on time, late, missed, excused, answer rate and
    median delay, for roll calls issued in [since, until) (default: the last 30 days)."""
    return stats.stats(session=session, viewer=viewer, since=since, until=until, district_id=district_id)


@router.get("/rollcalls/{roll_call_id}", response_model=schemas.RollCallOut)
def get_roll_call(roll_call_id: int, session: SessionDep, viewer: CurrentOfficer):
    """One roll call, with the caller's people counted by status."""
    return service.get_roll_call(session, viewer, roll_call_id)


@router.get("/rollcalls/{roll_call_id}/targets", response_model=list[schemas.TargetOut])
def list_targets(
    roll_call_id: int, session: SessionDep, viewer: CurrentOfficer, page: StaffPage, status: TargetStatus | None = None
):
    """The people called that the caller may see, with their answers and checks."""
    return service.list_targets(session, viewer, roll_call_id, status=status, limit=page.limit, offset=page.offset)


@router.post("/rollcalls/{roll_call_id}/cancel", response_model=schemas.RollCallOut)
def cancel_roll_call(roll_call_id: int, session: SessionDep, viewer: CurrentOfficer):
    """Cancel an open roll call (its issuer, or a supervisor and above): whoever has not answered is excused."""
    out = service.cancel(session=session, viewer=viewer, roll_call_id=roll_call_id)
    session.commit()
    return out


@router.post("/rollcall-targets/{target_id}/excuse", response_model=schemas.TargetOut)
def excuse_target(target_id: int, data: schemas.ExcuseIn, session: SessionDep, viewer: CurrentOfficer):
    """Excuse one person's pending or missed roll call, with the reason."""
    out = service.excuse(session=session, viewer=viewer, target_id=target_id, reason=data.reason)
    session.commit()
    return out


@router.get("/rollcall-rules", response_model=list[schemas.RuleOut])
def list_rules(session: SessionDep, viewer: CurrentOfficer, district_id: int | None = None):
    """The scheduled roll-call rules (常态化点名) of the caller's districts."""
    return schedule.list_rules(session=session, viewer=viewer, district_id=district_id)


@router.post("/rollcall-rules", response_model=schemas.RuleOut, status_code=status.HTTP_201_CREATED)
def create_rule(data: schemas.RuleIn, session: SessionDep, viewer: CurrentOfficer):
    """A rule calling a district's people of one risk level n times a day or week at random times in a
    window (supervisors and command staff of the district)."""
    rule = schedule.create_rule(session=session, viewer=viewer, data=data)
    session.commit()
    return rule


@router.patch("/rollcall-rules/{rule_id}", response_model=schemas.RuleOut)
def update_rule(rule_id: int, data: schemas.RuleUpdate, session: SessionDep, viewer: CurrentOfficer):
    """Change a rule; its times for the current period are drawn again."""
    rule = schedule.update_rule(session=session, viewer=viewer, rule_id=rule_id, data=data)
    session.commit()
    return rule


@router.delete("/rollcall-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: int, session: SessionDep, viewer: CurrentOfficer):
    """Remove a rule (the roll calls it issued stay)."""
    schedule.delete_rule(session=session, viewer=viewer, rule_id=rule_id)
    session.commit()
