"""Officers' response times (the officers are supervised too): how fast each one answers the alerts
assigned to them, against the deadlines escalation uses (alerts.sla)."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts import sla
from alerts.models import Alert, AlertStatus
from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer
from core.errors import Invalid
from core.security import Role


def _officers(session: Session, viewer: Officer, district_id: int | None) -> list[Officer]:
    if viewer.role == Role.officer:
        return [viewer]
    officers = caseload_service.list_officers(session=session, viewer=viewer)
    if district_id is None:
        return list(officers)
    caseload_service.get_district(session=session, viewer=viewer, district_id=district_id)
    subtree = set(caseload_scope.district_subtree(session=session, district_id=district_id))
    return [o for o in officers if o.district_id in subtree]


def response_times(
    *, session: Session, viewer: Officer, since: datetime, until: datetime, district_id: int | None
) -> list[dict[str, Any]]:
    """Per officer with alerts that started in [since, until): how many, how many answered, median and
    90th percentile minutes from the start to the answer and to the resolve, answered by the deadline,
    overdue (answered late, or unanswered past it), escalated, still open. An officer sees only their
    own row; the other roles the officers of their districts.

    An answer is the first of acknowledging and resolving: resolving straight away answers too."""
    if since >= until:
        raise Invalid("'since' must be before 'until'")
    officers = {o.id: o for o in _officers(session, viewer, district_id)}
    in_window = (Alert.assignee_id.in_(list(officers)), Alert.started_at >= since, Alert.started_at < until)
    people = session.scalars(select(Alert.supervisee_id).where(*in_window).distinct()).all()
    if not people:
        return []
    deadlines = sla.sla_table(sla.policies(session=session, supervisee_ids=people))
    answered_at = func.coalesce(Alert.acknowledged_at, Alert.resolved_at)
    due_at = sla.ack_due_at(deadlines, until=func.coalesce(answered_at, func.now()))
    answered = (
        select(
            Alert.assignee_id,
            Alert.status,
            Alert.escalated_at,
            (func.extract("epoch", answered_at - Alert.started_at) / 60).label("minutes"),
            (func.extract("epoch", Alert.resolved_at - Alert.started_at) / 60).label("resolve_minutes"),
            (answered_at <= due_at).label("in_time"),
            # Answered late, or not answered and past the deadline now.
            (func.coalesce(answered_at, func.now()) > due_at).label("late"),
        )
        .join(deadlines, sla.joins(deadlines))
        .where(*in_window)
        .subquery()
    )
    rows = session.execute(
        select(
            answered.c.assignee_id.label("officer_id"),
            func.count().label("assigned"),
            func.count(answered.c.minutes).label("acknowledged"),
            func.percentile_cont(0.5).within_group(answered.c.minutes).label("median_min"),
            func.percentile_cont(0.9).within_group(answered.c.minutes).label("p90_min"),
            func.count(answered.c.resolve_minutes).label("resolved"),
            func.percentile_cont(0.5).within_group(answered.c.resolve_minutes).label("resolve_median_min"),
            func.percentile_cont(0.9).within_group(answered.c.resolve_minutes).label("resolve_p90_min"),
            func.count().filter(answered.c.in_time).label("within_sla"),
            func.count().filter(answered.c.late).label("overdue"),
            func.count(answered.c.escalated_at).label("escalated"),
            func.count().filter(answered.c.status == AlertStatus.open).label("still_open"),
        )
        .group_by(answered.c.assignee_id)
        .order_by(answered.c.assignee_id)
    ).mappings()
    return [
        {**row, "username": officers[row["officer_id"]].username, "full_name": officers[row["officer_id"]].full_name}
        for row in rows
    ]
