"""常态化点名: scheduled roll calls. A rule (per district and risk level) calls its people
``times_per_period`` times a day or a week at random times inside a daily window, Asia/Shanghai. When a
period begins the worker draws its times (``roll_call_rule.planned``, until ``planned_until``) and issues
each when due, to the rule's district (with its sub-districts) and risk level, minus the people on
approved travel leave or with their alerts suspended at that moment. Also the rules' editing."""

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import suspension
from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer
from core.errors import Forbidden, Invalid, NotFound
from core.logs import configure
from core.security import Role
from core.timezones import display_tz
from geofence import leave
from rollcall import issue
from rollcall.config import get_rollcall_settings
from rollcall.models import Period, RollCall, RollCallKind, RollCallRule
from rollcall.schemas import RuleIn, RuleUpdate, check_rule

log = configure("ewall.rollcall.schedule")
EDITORS = frozenset({Role.supervisor, Role.command, Role.admin})


# Drawing the times (pure) ---------------------------------------------------------------------------


def period_bounds(period: Period, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day (midnight to midnight) or week (Monday to Monday) holding ``now``."""
    today = now.astimezone(tz).date()
    first = today if period == Period.day else today - timedelta(days=today.weekday())
    days = 1 if period == Period.day else 7
    return _midnight(first, tz), _midnight(first + timedelta(days=days), tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def draw_times(
    *, period: Period, times: int, window_start: time, window_end: time, start: datetime, rng: random.Random
) -> list[datetime]:
    """``times`` random moments, each on a random day of the period (a week's 7 or a day's 1) at a
    random time in [window_start, window_end) local, in order, UTC."""
    tz = start.tzinfo
    days = 1 if period == Period.day else 7
    opens = window_start.hour * 3600 + window_start.minute * 60 + window_start.second
    closes = window_end.hour * 3600 + window_end.minute * 60 + window_end.second
    drawn = []
    for _ in range(times):
        day = start.date() + timedelta(days=rng.randrange(days))
        seconds = rng.uniform(opens, closes)
        # Local wall time, then UTC: right on days whose offset changes (not in Asia/Shanghai, elsewhere).
        drawn.append((datetime.combine(day, time(0), tz) + timedelta(seconds=seconds)).astimezone(UTC))
    return sorted(drawn)


# Issuing what is due --------------------------------------------------------------------------------


def _replan(rule: RollCallRule, now: datetime, rng: random.Random) -> None:
    """Draw the current period's times; those already past (a rule made mid-period) are dropped."""
    start, end = period_bounds(rule.period, now, display_tz())
    times = draw_times(
        period=rule.period,
        times=rule.times_per_period,
        window_start=rule.window_start,
        window_end=rule.window_end,
        start=start,
        rng=rng,
    )
    rule.planned = [t.isoformat() for t in times if t > now]
    rule.planned_until = end


def issue_due(*, session: Session, now: datetime, rng: random.Random | None = None) -> list[RollCall]:
    """Draw the times of rules whose period began, and issue each rule's roll call that is due; commits
    once (the roll calls and their planned times' removal together, so none is issued twice; the rules
    stay locked meanwhile, so a second worker skips them). Returns the roll calls to deliver. Several
    times of a rule due at once (the worker was down) make one roll call."""
    rng = rng or random.Random()
    issued = []
    rules = session.scalars(
        select(RollCallRule).where(RollCallRule.active).order_by(RollCallRule.id).with_for_update(skip_locked=True)
    ).all()
    for rule in rules:
        if rule.planned_until is None or now >= rule.planned_until:
            _replan(rule, now, rng)
        due = [t for t in rule.planned if datetime.fromisoformat(t) <= now]
        if due:
            rule.planned = [t for t in rule.planned if t not in due]
            roll_call = _issue_for(session, rule, now)
            if roll_call is not None:
                issued.append(roll_call)
    session.commit()
    return issued


def _issue_for(session: Session, rule: RollCallRule, now: datetime) -> RollCall | None:
    try:
        with session.begin_nested():
            return issue.issue(
                session=session,
                issuer=None,
                mode=rule.mode,
                audience={"filter": {"district_id": rule.district_id, "risk_level": str(rule.risk_level)}},
                deadline_min=rule.deadline_min,
                close_min=rule.close_min,
                kind=RollCallKind.scheduled,
                rule_id=rule.id,
                excluding=[leave.on_leave_at(at=now), suspension.suspended_at(at=now)],
            )
    except Invalid as exc:  # nobody of that risk level in the district now: nothing to call
        log.info("rule %d: %s", rule.id, exc.message)
        return None


# Editing the rules ----------------------------------------------------------------------------------


def list_rules(*, session: Session, viewer: Officer, district_id: int | None = None) -> Sequence[RollCallRule]:
    """The rules of the districts the viewer may see."""
    query = caseload_scope.in_visible_districts(session, viewer, select(RollCallRule), RollCallRule.district_id)
    if district_id is not None:
        query = query.where(RollCallRule.district_id == district_id)
    return session.scalars(query.order_by(RollCallRule.district_id, RollCallRule.risk_level, RollCallRule.id)).all()


def _require_editor(viewer: Officer) -> None:
    if viewer.role not in EDITORS:
        raise Forbidden(f"scheduled roll calls are set by supervisors and command staff; you are {viewer.role}")


def create_rule(*, session: Session, viewer: Officer, data: RuleIn) -> RollCallRule:
    """A new rule for a district the viewer may see; its times are drawn in the worker's next round."""
    _require_editor(viewer)
    caseload_scope.require_district_visible(session, viewer, data.district_id)
    deadline_min, close_min = issue.minutes(
        mode=data.mode, deadline_min=data.deadline_min, close_min=data.close_min, settings=get_rollcall_settings()
    )
    rule = RollCallRule(
        **data.model_dump(exclude={"deadline_min", "close_min"}),
        deadline_min=deadline_min,
        close_min=close_min,
        created_by=viewer.id,
    )
    session.add(rule)
    session.flush()
    caseload_service.record(session, viewer, "roll_call_rule.create", rule.id, data.model_dump(mode="json"))
    return rule


def _get(session: Session, viewer: Officer, rule_id: int) -> RollCallRule:
    rule = session.get(RollCallRule, rule_id, with_for_update=True)
    visible = caseload_scope.visible_district_ids(session=session, viewer=viewer)
    if rule is None or (visible is not None and rule.district_id not in visible):
        raise NotFound(f"roll-call rule {rule_id} not found")
    return rule


def update_rule(*, session: Session, viewer: Officer, rule_id: int, data: RuleUpdate) -> RollCallRule:
    """Change a rule; the current period's times are drawn again."""
    _require_editor(viewer)
    rule = _get(session, viewer, rule_id)
    changes = data.model_dump(exclude_unset=True)
    merged = RuleUpdate.model_validate({name: getattr(rule, name) for name in RuleUpdate.model_fields} | changes)
    try:
        check_rule(merged)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.planned, rule.planned_until = [], None
    session.flush()
    caseload_service.record(
        session, viewer, "roll_call_rule.update", rule.id, data.model_dump(mode="json", exclude_unset=True)
    )
    return rule


def delete_rule(*, session: Session, viewer: Officer, rule_id: int) -> None:
    """Remove a rule; its roll calls already issued stay."""
    _require_editor(viewer)
    rule = _get(session, viewer, rule_id)
    session.delete(rule)
    session.flush()
    caseload_service.record(session, viewer, "roll_call_rule.delete", rule_id, {"district_id": rule.district_id})
