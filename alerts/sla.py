"""When an alert must be acknowledged (the SLA), as SQL, for the escalation round and the officers'
response-times report alike.

The clock starts with the episode (its first evidence): an alert opened at a level is due that
level's SLA later. A yellow raised to red is due the red SLA after the raise, unless its yellow SLA
runs out first, so an officer always has the red SLA to answer a red.

The clock stops while the platform itself is out (alerts.outage): the deadline moves later by how much
of [the episode's start, now] outage windows cover. A platform alert (no supervisee) has the default
SLA."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, FromClause, Integer, case, cast, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from alerts import policy
from alerts.models import Alert, AlertEvent, AlertStatus, PlatformOutage
from alerts.policy import Policy
from core.wire import AlertLevel

_MINUTE = literal_column("interval '1 minute'")
_NOTHING = literal_column("interval '0'")
_INFINITY = literal_column("'infinity'::timestamptz")
AWAITING_ACK = (Alert.status == AlertStatus.open, Alert.escalated_at.is_(None))


def policies(*, session: Session, supervisee_ids: Sequence[int | None]) -> dict[int | None, Policy]:
    """Each person's policy, and the defaults for platform alerts (supervisee None) if among them."""
    found: dict[int | None, Policy] = policy.policies_for(
        session=session, supervisee_ids=[p for p in supervisee_ids if p is not None]
    )
    if None in supervisee_ids:
        found[None] = policy.defaults()
    return found


def sla_table(policies: Mapping[int | None, Policy]) -> FromClause:
    """(supervisee_id, red_min, yellow_min) for each person, to join alerts with (see ``joins``)."""

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


def joins(sla: FromClause) -> ColumnElement[bool]:
    """The join condition with ``sla_table``: platform alerts take its row with no supervisee."""
    return sla.c.supervisee_id.is_not_distinct_from(Alert.supervisee_id)


def paused(until: ColumnElement[datetime] | datetime) -> ColumnElement[timedelta]:
    """How much of [the alert's start, until] the platform's outage windows cover (merged, so that
    windows of two causes at once count once)."""
    window = func.tstzrange(PlatformOutage.started_at, func.coalesce(PlatformOutage.ended_at, _INFINITY))
    outages = (
        select(func.range_agg(window))
        .where(
            PlatformOutage.scope == "platform",
            PlatformOutage.started_at < until,
            or_(PlatformOutage.ended_at.is_(None), PlatformOutage.ended_at > Alert.started_at),
        )
        .scalar_subquery()
    )
    since_start = func.tstzmultirange(func.tstzrange(Alert.started_at, func.greatest(Alert.started_at, until)))
    part = func.unnest(outages.op("*")(since_start)).column_valued("part")
    return select(func.coalesce(func.sum(func.upper(part) - func.lower(part)), _NOTHING)).scalar_subquery()


def ack_due_at(sla: FromClause, *, until: ColumnElement[datetime] | datetime) -> ColumnElement[datetime]:
    """An alert's acknowledgement deadline as of ``until`` (the outages up to then stop its clock),
    for a query joined with ``sla_table``."""
    raised_at = (
        select(func.min(AlertEvent.at))
        .where(AlertEvent.alert_id == Alert.id, AlertEvent.kind == "level_raised")
        .scalar_subquery()
    )
    yellow_due = Alert.started_at + sla.c.yellow_min * _MINUTE
    due = case(
        (Alert.level == AlertLevel.yellow, yellow_due),
        (raised_at.is_(None), Alert.started_at + sla.c.red_min * _MINUTE),
        else_=func.least(yellow_due, raised_at + sla.c.red_min * _MINUTE),
    )
    return due + paused(until)


def overdue(*, session: Session, now: datetime, limit: int | None = None) -> list[tuple[Alert, datetime]]:
    """Open, unescalated alerts past their deadline (at most ``limit``), with it, oldest first, locked;
    rows another transaction holds are skipped, so two watchdogs never escalate the same alert."""
    soonest_min = min(policy.smallest(session=session, field=f) for f in ("ack_sla_red_min", "ack_sla_yellow_min"))
    # Nothing can be due before the shortest SLA anybody has: that bounds whose policy is needed.
    started_before = Alert.started_at <= now - soonest_min * _MINUTE
    people = session.scalars(select(Alert.supervisee_id).where(*AWAITING_ACK, started_before).distinct()).all()
    if not people:
        return []
    sla = sla_table(policies(session=session, supervisee_ids=people))
    due_at = ack_due_at(sla, until=now)
    rows = session.execute(
        select(Alert, due_at)
        .join(sla, joins(sla))
        .where(*AWAITING_ACK, started_before, due_at <= now)
        .order_by(Alert.started_at, Alert.id)
        .limit(limit)
        .with_for_update(of=Alert, skip_locked=True)
    )
    return [(alert, due) for alert, due in rows]
