"""What the alert tests share: raising and ending episodes the way workers do, changing the clock
of stored rows (tests never wait for wall-clock time), and reading the audit chain."""

from datetime import datetime

from sqlalchemy import select, text

from alerts import rules
from alerts import service as alerts_service
from alerts.models import Alert
from alerts.service import AlertChange
from core import audit
from core.db import session_scope
from core.wire import AlertLevel


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
