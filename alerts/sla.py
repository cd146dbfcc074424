"""When an alert must be acknowledged (the SLA), as SQL, for the escalation round and the officers'
response-times report alike.

The clock starts with the episode (its first evidence): an alert opened at a level is due that
level's SLA later. A yellow raised to red is due the red SLA after the raise, unless its yellow SLA
runs out first, so an officer always has the red SLA to answer a red."""

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, FromClause, Integer, case, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from alerts import policy
from alerts.models import Alert, AlertEvent, AlertStatus
from alerts.policy import Policy
from core.db import AlertLevel

_MINUTE = literal_column("interval '1 minute'")
AWAITING_ACK = (Alert.status == AlertStatus.open, Alert.escalated_at.is_(None))


def sla_table(policies: Mapping[int, Policy]) -> FromClause:
    """(supervisee_id, red_min, yellow_min) for each person, to join alerts with."""

    def column(values: list[int]):
        return cast(values, ARRAY(Integer))

    people = list(policies)
    return (
        func.unnest(
            column(people),
            column([policies[p].ack_sla_red_min for p in people]),
            column([policies[p].ack_sla_yellow_min for p in people]),
        )
        .table_valued("supervisee_id", "red_min", "yellow_min", name="sla")
        .render_derived()
    )


def ack_due_at(sla: FromClause) -> ColumnElement[datetime]:
    """An alert's acknowledgement deadline, for a query joined with ``sla_table``."""
    raised_at = (
        select(func.min(AlertEvent.at))
        .where(AlertEvent.alert_id == Alert.id, AlertEvent.kind == "level_raised")
        .scalar_subquery()
    )
    yellow_due = Alert.started_at + sla.c.yellow_min * _MINUTE
    return case(
        (Alert.level == AlertLevel.yellow, yellow_due),
        (raised_at.is_(None), Alert.started_at + sla.c.red_min * _MINUTE),
        else_=func.least(yellow_due, raised_at + sla.c.red_min * _MINUTE),
    )


def overdue(*, session: Session, now: datetime, limit: int | None = None) -> list[tuple[Alert, datetime]]:
    """Open, unescalated alerts past their deadline (at most ``limit``), with it, oldest first, locked;
    rows another transaction holds are skipped, so two watchdogs never escalate the same alert."""
    soonest_min = min(policy.smallest(session=session, field=f) for f in ("ack_sla_red_min", "ack_sla_yellow_min"))
    # Nothing can be due before the shortest SLA anybody has: that bounds whose policy is needed.
    started_before = Alert.started_at <= now - soonest_min * _MINUTE
    people = session.scalars(select(Alert.supervisee_id).where(*AWAITING_ACK, started_before).distinct()).all()
    if not people:
        return []
    sla = sla_table(policy.policies_for(session=session, supervisee_ids=people))
    due_at = ack_due_at(sla)
    rows = session.execute(
        select(Alert, due_at)
        .join(sla, sla.c.supervisee_id == Alert.supervisee_id)
        .where(*AWAITING_ACK, started_before, due_at <= now)
        .order_by(Alert.started_at, Alert.id)
        .limit(limit)
        .with_for_update(of=Alert, skip_locked=True)
    )
    return [(alert, due) for alert, due in rows]
