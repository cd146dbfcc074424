"""Alert episodes: raise (idempotently), end, list, acknowledge, escalate, resolve — each transition
recorded in alert_event and in the audit chain."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, select, text, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from alerts import sla, suspension
from alerts.models import LIVE_EPISODE, Alert, AlertEvent, AlertStatus, Disposition
from caseload import monitoring
from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer
from core import audit
from core.errors import Conflict, Forbidden, NotFound
from core.security import Role
from core.timezones import utcnow
from core.wire import AlertLevel

SYSTEM = "system"
HANDLERS = frozenset({Role.officer, Role.supervisor, Role.command, Role.admin})
# Who sees a platform alert (a whole gateway or district gone silent) of their districts.
PLATFORM_VIEWERS = frozenset({Role.command, Role.admin, Role.auditor})
LIVE = and_(Alert.ended_at.is_(None), Alert.status != AlertStatus.resolved)
# Resolved as nothing to answer for: such an alert is not escalated nor counted against the person.
DISMISSED = (Disposition.false_alarm, Disposition.approved_absence)


@dataclass(frozen=True)
class AlertChange:
    """What happened to an alert, for notifications (alerts.v1)."""

    alert_id: int
    supervisee_id: int | None  # None for a platform alert
    kind: str
    level: str

    def as_dict(self) -> dict:
        return {"alert_id": self.alert_id, "supervisee_id": self.supervisee_id, "kind": self.kind, "level": self.level}


# What an officer's action returns: the alert as it now is, and the changes to publish after commit.
Handled = tuple[Alert, list[AlertChange]]


def _record(session: Session, alert: Alert, kind: str, actor: str, detail: dict | None = None) -> AlertChange:
    session.add(AlertEvent(alert_id=alert.id, kind=kind, actor=actor, detail=detail or {}))
    audit.append(
        session,
        actor=actor,
        action=f"alert.{kind}",
        entity="alert",
        entity_id=alert.id,
        detail={
            "supervisee_id": alert.supervisee_id,
            **({"district_id": alert.district_id} if alert.supervisee_id is None else {}),
            "rule": alert.rule,
            "level": alert.level.value,
            **(detail or {}),
        },
    )
    return AlertChange(alert.id, alert.supervisee_id, kind, alert.level.value)


class EpisodeBook:
    """The episodes of some dedup keys, loaded and locked in two queries: those not ended yet (the
    live one, and resolved ones whose condition goes on), and until when the ended ones reach. A
    worker loads one for its whole batch instead of querying twice per event; ``raise_alert`` and
    ``end_episode`` keep it current as they change episodes."""

    def __init__(self, session: Session, keys: Iterable[str]):
        keys = sorted(set(keys))
        self._unended: dict[str, list[Alert]] = {}
        # In id order, so that two transactions locking overlapping keys cannot deadlock.
        unended = select(Alert).where(Alert.dedup_key.in_(keys), Alert.ended_at.is_(None)).order_by(Alert.id)
        for alert in session.scalars(unended.with_for_update()):
            self._unended.setdefault(alert.dedup_key, []).append(alert)
        ended = (
            select(Alert.dedup_key, func.max(Alert.ended_at))
            .where(Alert.dedup_key.in_(keys), Alert.ended_at.is_not(None))
            .group_by(Alert.dedup_key)
        )
        self._ended_until: dict[str, datetime] = {key: until for key, until in session.execute(ended)}

    def live(self, key: str) -> Alert | None:
        return next((a for a in self._unended.get(key, ()) if a.status != AlertStatus.resolved), None)

    def ended_until(self, key: str) -> datetime | None:
        """The latest return (end) of an ended episode of the key: evidence up to it is a replay."""
        return self._ended_until.get(key)

    def resolved_going_on(self, key: str) -> Alert | None:
        """An episode the officer resolved while its condition goes on (the person still outside)."""
        return next((a for a in self._unended.get(key, ()) if a.status == AlertStatus.resolved), None)

    def ending(self, key: str, at: datetime) -> Alert | None:
        """The unended episode that a return at ``at`` ends."""
        return next((a for a in self._unended.get(key, ()) if a.started_at <= at), None)

    def opened(self, alert: Alert) -> None:
        self._unended.setdefault(alert.dedup_key, []).append(alert)

    def ended(self, alert: Alert) -> None:
        self._unended[alert.dedup_key].remove(alert)
        previous = self._ended_until.get(alert.dedup_key)
        self._ended_until[alert.dedup_key] = alert.ended_at if previous is None else max(previous, alert.ended_at)


def raise_alert(
    *,
    session: Session,
    supervisee_id: int | None,
    zone_id: int | None,
    rule: str,
    level: AlertLevel,
    key: str,
    at: datetime,
    evidence: dict,
    book: EpisodeBook | None = None,
    district_id: int | None = None,
    gateway_id: int | None = None,
) -> AlertChange | None:
    """Open an episode, or add evidence to the live one. Replays of evidence that belongs to an
    episode already ended change nothing; evidence of an episode resolved while its condition goes on
    stays that episode's (no new alert before a return). While the person's alerts are suspended no
    episode opens: the evidence is kept on the suspension instead (see alerts.suspension). A platform
    alert names a district (and gateway) instead of a person and goes to the district's command staff."""
    book = book or EpisodeBook(session, [key])
    ended = book.ended_until(key)
    if ended is not None and ended >= at:
        return None
    live = book.live(key)
    if live is None and (resolved := book.resolved_going_on(key)) is not None:
        return _continue_resolved(session, resolved, level, at, evidence)
    if live is None:
        if _suspended(session, supervisee_id, key, rule, level, at, evidence):
            return None
        inserted = session.scalar(
            insert(Alert)
            .values(
                supervisee_id=supervisee_id,
                zone_id=zone_id,
                rule=rule,
                level=level,
                dedup_key=key,
                started_at=at,
                last_evidence_at=at,
                evidence={"first": evidence, "last": evidence, "count": 1},
                district_id=district_id,
                gateway_id=gateway_id,
                assignee_id=_assignee(session, supervisee_id, district_id),
            )
            .on_conflict_do_nothing(index_elements=[Alert.dedup_key], index_where=text(LIVE_EPISODE))
            .returning(Alert)
        )
        if inserted is not None:
            book.opened(inserted)
            return _record(session, inserted, "opened", SYSTEM, {"evidence": evidence})
        # Another transaction opened it since the book was loaded.
        live = session.scalar(select(Alert).where(Alert.dedup_key == key, LIVE).with_for_update())
        book.opened(live)
    change = None
    _add_evidence(live, at, evidence)
    if level == AlertLevel.red and live.level == AlertLevel.yellow:
        live.level = AlertLevel.red
        change = _record(session, live, "level_raised", SYSTEM, {"evidence": evidence})
    return change


def _suspended(
    session: Session, supervisee_id: int | None, key: str, rule: str, level: AlertLevel, at: datetime, evidence: dict
) -> bool:
    """Whether the person's alerts are suspended at ``at``; if so the suspension keeps the evidence."""
    held = suspension.covering(session=session, supervisee_id=supervisee_id, at=at) if supervisee_id else None
    if held is not None:
        suspension.note_suppressed(
            session=session, suspension=held, key=key, rule=rule, level=level, at=at, evidence=evidence
        )
    return held is not None


def _add_evidence(episode: Alert, at: datetime, evidence: dict) -> None:
    if at > episode.last_evidence_at:
        episode.last_evidence_at = at
        episode.evidence = {**episode.evidence, "last": evidence, "count": episode.evidence.get("count", 1) + 1}


def _continue_resolved(
    session: Session, episode: Alert, level: AlertLevel, at: datetime, evidence: dict
) -> AlertChange | None:
    """Evidence of an episode resolved while its condition went on stays that episode's: a new alert
    comes only after a return. Its raise to red by time still brings it back to the queue, open,
    unless the officer dismissed it (a false alarm, an approved absence) or the person's alerts are
    suspended (the suspension keeps the evidence)."""
    _add_evidence(episode, at, evidence)
    if level != AlertLevel.red or episode.level == AlertLevel.red or episode.disposition in DISMISSED:
        return None
    if _suspended(session, episode.supervisee_id, episode.dedup_key, episode.rule, level, at, evidence):
        return None
    episode.level = AlertLevel.red
    episode.status = AlertStatus.open
    detail = {"evidence": evidence, "reopened": True, "resolved_as": episode.disposition.value}
    return _record(session, episode, "level_raised", SYSTEM, detail)


def _assignee(session: Session, supervisee_id: int | None, district_id: int | None) -> int | None:
    if supervisee_id is not None:
        return caseload_service.assigned_officer_id(session=session, supervisee_id=supervisee_id)
    return monitoring.command_officer_for(session=session, district_id=district_id)


def end_episode(
    *, session: Session, key: str, at: datetime, evidence: dict, book: EpisodeBook | None = None
) -> AlertChange | None:
    """The condition is over (the person is back, the signal returned)."""
    book = book or EpisodeBook(session, [key])
    live = book.ending(key, at)
    if live is None:
        return None
    live.ended_at = at
    book.ended(live)
    return _record(session, live, "ended", SYSTEM, {"evidence": evidence})


def live_alerts(*, session: Session, rule: str) -> Sequence[Alert]:
    return session.scalars(select(Alert).where(Alert.rule == rule, Alert.ended_at.is_(None))).all()


def list_alerts(
    *,
    session: Session,
    viewer: Officer,
    status: AlertStatus | None = None,
    level: AlertLevel | None = None,
    supervisee_id: int | None = None,
    since: datetime | None = None,
    escalated: bool | None = None,
    limit: int = 200,
    offset: int = 0,
) -> Sequence[Alert]:
    """Alerts in the viewer's caseload and those escalated to them, newest first."""
    query = select(Alert).where(visible_to(session=session, viewer=viewer))
    if status is not None:
        query = query.where(Alert.status == status)
    if level is not None:
        query = query.where(Alert.level == level)
    if supervisee_id is not None:
        query = query.where(Alert.supervisee_id == supervisee_id)
    if since is not None:
        query = query.where(or_(Alert.started_at >= since, Alert.updated_at >= since))
    if escalated is not None:
        query = query.where(Alert.escalated_at.is_not(None) if escalated else Alert.escalated_at.is_(None))
    return session.scalars(query.order_by(Alert.started_at.desc(), Alert.id.desc()).limit(limit).offset(offset)).all()


def visible_to(*, session: Session, viewer: Officer) -> ColumnElement[bool]:
    """A WHERE clause on Alert: the viewer's caseload, what was escalated to them, and the platform
    alerts of their districts."""
    return or_(
        Alert.supervisee_id.in_(caseload_scope.visible_supervisee_ids(session=session, viewer=viewer)),
        Alert.escalated_to == viewer.id,
        _platform_alerts_seen_by(session, viewer),
    )


def _platform_alerts_seen_by(session: Session, viewer: Officer) -> ColumnElement[bool]:
    if viewer.role not in PLATFORM_VIEWERS:
        return false()
    districts = caseload_scope.visible_district_ids(session=session, viewer=viewer)
    return and_(Alert.supervisee_id.is_(None), true() if districts is None else Alert.district_id.in_(districts))


def get(*, session: Session, viewer: Officer, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    # Whoever an alert was escalated to must be able to handle it, in their caseload or not.
    if alert.escalated_to == viewer.id:
        return alert
    if alert.supervisee_id is None:
        if not session.scalar(select(_platform_alerts_seen_by(session, viewer)).where(Alert.id == alert.id)):
            raise NotFound(f"alert {alert_id} not found")
    else:
        caseload_service.get_supervisee(session=session, viewer=viewer, supervisee_id=alert.supervisee_id)
    return alert


def list_events(
    *, session: Session, viewer: Officer, alert_id: int, limit: int | None = None, offset: int = 0
) -> Sequence[AlertEvent]:
    get(session=session, viewer=viewer, alert_id=alert_id)
    query = select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
    return session.scalars(query.limit(limit).offset(offset)).all()


def _handle(session: Session, viewer: Officer, alert_id: int) -> Alert:
    if viewer.role not in HANDLERS:
        raise Forbidden(f"role '{viewer.role}' cannot handle alerts")
    alert = get(session=session, viewer=viewer, alert_id=alert_id)
    session.refresh(alert, with_for_update=True)
    return alert


def acknowledge(*, session: Session, viewer: Officer, alert_id: int, note: str | None) -> Handled:
    """open → acknowledged."""
    alert = _handle(session, viewer, alert_id)
    if alert.status != AlertStatus.open:
        raise Conflict(f"alert {alert_id} is {alert.status}, only an open alert can be acknowledged")
    alert.status = AlertStatus.acknowledged
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = viewer.id
    alert.ack_note = note
    session.flush()
    return alert, [_record(session, alert, "acknowledged", caseload_service.actor(viewer), {"note": note})]


def resolve(*, session: Session, viewer: Officer, alert_id: int, disposition: Disposition, note: str | None) -> Handled:
    """open or acknowledged → resolved, with a disposition."""
    alert = _handle(session, viewer, alert_id)
    if alert.status == AlertStatus.resolved:
        raise Conflict(f"alert {alert_id} is already resolved")
    alert.status = AlertStatus.resolved
    alert.resolved_at = utcnow()
    alert.resolved_by = viewer.id
    alert.disposition = disposition
    alert.resolution_note = note
    session.flush()
    detail = {"disposition": disposition.value, "note": note}
    return alert, [_record(session, alert, "resolved", caseload_service.actor(viewer), detail)]


def _escalation_target(session: Session, alert: Alert, *, above: Officer | None = None) -> int | None:
    """The assignee's supervisor, or the one of ``above`` when that would be ``above`` themself (a
    supervisor escalating their officer's alert passes it further up). A platform alert goes to the
    next command officer up its district's chain."""
    if alert.supervisee_id is None:
        skip = above.id if above is not None else alert.assignee_id
        return monitoring.command_officer_for(session=session, district_id=alert.district_id, exclude=skip)
    target = caseload_service.escalation_target(
        session=session, officer_id=alert.assignee_id, supervisee_id=alert.supervisee_id
    )
    if above is not None and target == above.id:
        target = caseload_service.escalation_target(
            session=session, officer_id=above.id, supervisee_id=alert.supervisee_id
        )
    return target


def _mark_escalated(session: Session, alert: Alert, target: int | None, actor: str, detail: dict) -> AlertChange:
    alert.escalated_at = utcnow()
    alert.escalated_to = target
    session.flush()
    return _record(session, alert, "escalated", actor, {"to": target, **detail})


def escalate(*, session: Session, viewer: Officer, alert_id: int, note: str | None) -> Handled:
    """open or acknowledged → escalated to the supervisor, by hand."""
    alert = _handle(session, viewer, alert_id)
    if alert.status == AlertStatus.resolved:
        raise Conflict(f"alert {alert_id} is resolved; only an open or acknowledged alert can be escalated")
    if alert.escalated_at is not None:
        raise Conflict(f"alert {alert_id} was already escalated at {alert.escalated_at:%Y-%m-%d %H:%M} UTC")
    target = _escalation_target(session, alert, above=viewer)
    return alert, [_mark_escalated(session, alert, target, caseload_service.actor(viewer), {"note": note})]


def escalate_overdue(*, session: Session, limit: int | None = None) -> list[AlertChange]:
    """Escalate the alerts left unacknowledged past their deadline (see alerts.sla), at most ``limit``."""
    now = utcnow()
    targets: dict[tuple, int | None] = {}
    changes = []
    for alert, due_at in sla.overdue(session=session, now=now, limit=limit):
        # Alerts of one assignee share a target (platform alerts apart); unassigned ones are looked up
        # per person or district.
        unassigned = (alert.supervisee_id, alert.district_id) if alert.assignee_id is None else None
        scope = (alert.assignee_id, alert.supervisee_id is None, unassigned)
        if scope not in targets:
            targets[scope] = _escalation_target(session, alert)
        detail = {
            "due_at": due_at.isoformat(),
            "unacknowledged_min": int((now - alert.started_at).total_seconds() // 60),
        }
        changes.append(_mark_escalated(session, alert, targets[scope], SYSTEM, detail))
    return changes


def open_level_by_supervisee(*, session: Session, supervisee_ids: Sequence[int]) -> dict[int, AlertLevel]:
    """The highest level among each person's unresolved alerts (for the live map's colours)."""
    rows = session.execute(
        select(Alert.supervisee_id, Alert.level).where(
            Alert.supervisee_id.in_(supervisee_ids), Alert.status != AlertStatus.resolved
        )
    )
    levels: dict[int, AlertLevel] = {}
    for supervisee_id, level in rows:
        if levels.get(supervisee_id) != AlertLevel.red:
            levels[supervisee_id] = level
    return levels


def ongoing_rules(*, session: Session, supervisee_id: int) -> set[str]:
    """The rules of a person's episodes still going on (not ended, not resolved): what the phone page
    puts in plain words."""
    rows = session.scalars(
        select(Alert.rule).where(
            Alert.supervisee_id == supervisee_id, Alert.ended_at.is_(None), Alert.status != AlertStatus.resolved
        )
    )
    return set(rows)


def count_opened(*, session: Session, supervisee_id: int, level: AlertLevel, since: datetime) -> int:
    """Alerts of a level opened for a person since a moment, not dismissed as false alarms or approved
    absences (for "three yellows in seven days")."""
    return session.scalar(
        select(func.count()).where(
            Alert.supervisee_id == supervisee_id,
            Alert.level == level,
            Alert.started_at >= since,
            or_(Alert.disposition.is_(None), Alert.disposition.not_in(DISMISSED)),
        )
    )


# The alert history (auditors, command): read-only ----------------------------------------------------


@dataclass(frozen=True)
class HistorySearch:
    """What the alert history is searched by; None is any. ``people`` is a subquery of supervisee ids
    (a name or code, a district: caseload's to answer); ``districts`` keeps the platform alerts of
    those districts too."""

    people: ColumnElement | None = None
    districts: Sequence[int] | None = None
    rule: str | None = None
    level: AlertLevel | None = None
    status: AlertStatus | None = None
    assignee_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _history_query(session: Session, viewer: Officer, search: HistorySearch):
    # The same scope as the queue (list_alerts): the viewer's caseload, escalations to them, and
    # platform alerts of their districts.
    seen = or_(
        Alert.supervisee_id.in_(caseload_scope.visible_supervisee_ids(session=session, viewer=viewer)),
        Alert.escalated_to == viewer.id,
        _platform_alerts_seen_by(session, viewer),
    )
    query = select(Alert).where(seen)
    if search.people is not None and search.districts is not None:
        query = query.where(or_(Alert.supervisee_id.in_(search.people), Alert.district_id.in_(search.districts)))
    elif search.people is not None:
        query = query.where(Alert.supervisee_id.in_(search.people))
    for column, value in (
        (Alert.rule, search.rule),
        (Alert.level, search.level),
        (Alert.status, search.status),
        (Alert.assignee_id, search.assignee_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if search.since is not None:
        query = query.where(Alert.started_at >= search.since)
    if search.until is not None:
        query = query.where(Alert.started_at < search.until)
    return query.order_by(Alert.started_at.desc(), Alert.id.desc())


def search_history(
    *, session: Session, viewer: Officer, search: HistorySearch, limit: int, offset: int = 0
) -> Sequence[Alert]:
    """A page of the alerts matching the search in the viewer's scope, newest first."""
    return session.scalars(_history_query(session, viewer, search).limit(limit).offset(offset)).all()


def iter_history(*, session: Session, viewer: Officer, search: HistorySearch) -> Iterable[Alert]:
    """Every alert matching the search in the viewer's scope, newest first, streamed in chunks."""
    yield from session.scalars(_history_query(session, viewer, search).execution_options(yield_per=1000))


def events_by_alert(*, session: Session, alert_ids: Sequence[int]) -> dict[int, list[AlertEvent]]:
    """Every transition of these alerts (already checked to be in the viewer's scope), in order."""
    events: dict[int, list[AlertEvent]] = {alert_id: [] for alert_id in alert_ids}
    query = select(AlertEvent).where(AlertEvent.alert_id.in_(alert_ids)).order_by(AlertEvent.id)
    for event in session.scalars(query):
        events[event.alert_id].append(event)
    return events


@dataclass(frozen=True)
class OpenAlert:
    """An unresolved alert as the command centre counts it; overdue: still unacknowledged past the
    acknowledgement deadline (alerts.sla)."""

    id: int
    supervisee_id: int | None
    district_id: int | None
    assignee_id: int | None
    level: AlertLevel
    status: AlertStatus
    rule: str
    started_at: datetime
    overdue: bool


def open_alerts_overview(*, session: Session, viewer: Officer, now: datetime) -> list[OpenAlert]:
    """Every unresolved alert in the viewer's scope, with whether it is overdue, oldest first."""
    unresolved = _history_query(session, viewer, HistorySearch()).where(Alert.status != AlertStatus.resolved)
    people = session.scalars(unresolved.with_only_columns(Alert.supervisee_id).distinct().order_by(None)).all()
    if not people:
        return []
    deadlines = sla.sla_table(sla.policies(session=session, supervisee_ids=people))
    due_at = sla.ack_due_at(deadlines, until=now)
    rows = session.execute(
        unresolved.add_columns(due_at)
        .join(deadlines, sla.joins(deadlines))
        .order_by(None)
        .order_by(Alert.started_at, Alert.id)
    )
    return [
        OpenAlert(
            a.id,
            a.supervisee_id,
            a.district_id,
            a.assignee_id,
            a.level,
            a.status,
            a.rule,
            a.started_at,
            a.status == AlertStatus.open and due <= now,
        )
        for a, due in rows
    ]
