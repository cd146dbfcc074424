"""What the alert tests share: raising and ending episodes the way workers do, changing the clock
of stored rows (tests never wait for wall-clock time), and reading the audit chain."""

from datetime import datetime

from sqlalchemy import select, text

from alerts import policy, rules
from alerts import service as alerts_service
from alerts.models import Alert
from alerts.publish import publish_changes
from alerts.service import AlertChange
from alerts.worker import apply_zone_event, episode_key
from core import audit, bus
from core.db import session_scope
from core.wire import AlertLevel
from tests.factories import CENTRE, offset


def raise_alert(
    person_id: int, at: datetime, level: AlertLevel = AlertLevel.yellow, key: str | None = None
) -> AlertChange | None:
    with session_scope() as session:
        return alerts_service.raise_alert(
            session=session,
            supervisee_id=person_id,
            zone_id=None,
            rule=rules.SIGNAL_LOST,
            level=level,
            key=key or rules.dedup_key(rules.SIGNAL_LOST, person_id),
            at=at,
            evidence={"at": at.isoformat()},
        )


def end_alert(person_id: int, at: datetime, key: str | None = None) -> AlertChange | None:
    with session_scope() as session:
        return alerts_service.end_episode(
            session=session, key=key or rules.dedup_key(rules.SIGNAL_LOST, person_id), at=at, evidence={}
        )


def escalation_round(*alert_ids: int, limit: int | None = None) -> list[AlertChange]:
    """One escalation round (at most ``limit`` alerts); its changes to these alerts.

    The test platform's own watchdog runs rounds meanwhile, and a round skips the rows another one
    holds: these are locked first, so that a watchdog round holding them commits before this one
    reads them, and the outcome is the same whichever round escalated."""
    with session_scope() as session:
        session.execute(select(Alert.id).where(Alert.id.in_(alert_ids)).with_for_update())
        return [c for c in alerts_service.escalate_overdue(session=session, limit=limit) if c.alert_id in alert_ids]


def sql(statement: str, **params) -> list:
    """Run one statement in its own transaction (e.g. to back-date a row); returns its rows if any."""
    with session_scope() as session:
        result = session.execute(text(statement), params)
        return result.all() if result.returns_rows else []


def audit_entries(entity: str, entity_id: int) -> list[audit.AuditLog]:
    with session_scope() as session:
        query = select(audit.AuditLog).where(
            audit.AuditLog.entity == entity, audit.AuditLog.entity_id == str(entity_id)
        )
        return list(session.scalars(query.order_by(audit.AuditLog.id)))


def audit_problems() -> list[str]:
    with session_scope() as session:
        return audit.verify(session)


def exit_event(person_id: int, zone_id: int, kind: str, at: datetime, started: datetime, north_m: float = 650) -> dict:
    """A zone event of an inclusion exit (zone-events.v1) at ``north_m`` north of the factory's
    centre, where its home zone (500 m half side) ends: close enough that only time makes it red."""
    lat, lon = offset(*CENTRE, north_m=north_m)
    return {
        "supervisee_id": person_id,
        "zone_id": zone_id,
        "rule": rules.INCLUSION_EXIT,
        "kind": kind,
        "level": "yellow",
        "started_us": int(started.timestamp() * 1e6),
        "ts_us": int(at.timestamp() * 1e6),
        "lat": lat,
        "lon": lon,
        "accuracy_m": 10.0,
        "distance_m": north_m - 500,
        "reason": "",
    }


def apply_zone_events(*events: dict) -> list[AlertChange]:
    """Apply zone events as the alerts worker does, in one transaction."""
    with session_scope() as session:
        people = sorted({e["supervisee_id"] for e in events})
        policies = policy.policies_for(session=session, supervisee_ids=people)
        book = alerts_service.EpisodeBook(session, [episode_key(e) for e in events])
        return [c for e in events for c in apply_zone_event(session, e, policies[e["supervisee_id"]], book)]


def announce(changes: list[AlertChange]) -> None:
    """Publish changes on alerts.v1 as the workers do after their commit (the portals' live stream)."""
    publisher = bus.Publisher()
    try:
        publish_changes(publisher, changes)
    finally:
        publisher.close()
