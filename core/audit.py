"""Append-only, hash-chained audit log: each row's hash covers the previous row's hash,
so editing or deleting any row breaks the chain from there on."""

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import BigInteger, DateTime, String, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from core.timezones import utcnow

GENESIS_HASH = "0" * 64
# Serialises appends across processes so the chain stays linear.
_AUDIT_LOCK_KEY = 0x65_77_61_6C_6C
# session.info: (transaction, hash of the last entry it appended), while that transaction holds the lock.
_CHAIN_END = "ewall.audit.chain_end"


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def _row_hash(
    prev_hash: str, at: datetime, actor: str, action: str, entity: str, entity_id: str, detail: dict[str, Any]
) -> str:
    payload = orjson.dumps(
        [prev_hash, at.astimezone(UTC).isoformat(), actor, action, entity, entity_id, detail],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(payload).hexdigest()


def append(
    session: Session, *, actor: str, action: str, entity: str, entity_id: Any, detail: dict[str, Any] | None = None
) -> AuditLog:
    """Add one entry to the chain inside the caller's transaction."""
    session.connection()  # begins the transaction if nothing has yet
    transaction = session.get_transaction()
    held, prev = session.info.get(_CHAIN_END, (None, None))
    if held is not transaction:
        # The first entry of this transaction: take the lock, which is held until it ends, so the
        # chain's end stays what this session last wrote.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})
        prev = session.scalar(select(AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)) or GENESIS_HASH
    # Round-trip through JSON so the hash is computed over exactly what is stored.
    detail = orjson.loads(orjson.dumps(detail or {}))
    at = utcnow()
    entry = AuditLog(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        detail=detail,
        prev_hash=prev,
        hash=_row_hash(prev, at, actor, action, entity, str(entity_id), detail),
    )
    session.add(entry)
    session.flush()
    session.info[_CHAIN_END] = (transaction, entry.hash)
    return entry


def verify(session: Session) -> list[str]:
    """Walk the chain; return one message per broken link (empty when intact)."""
    problems: list[str] = []
    prev = GENESIS_HASH
    for row in session.scalars(select(AuditLog).order_by(AuditLog.id)).yield_per(5000):
        if row.prev_hash != prev:
            problems.append(f"audit_log id {row.id}: previous-hash link broken (a row before it was removed)")
        expected = _row_hash(row.prev_hash, row.at, row.actor, row.action, row.entity, row.entity_id, row.detail)
        if row.hash != expected:
            problems.append(f"audit_log id {row.id}: content does not match its hash (row edited)")
        prev = row.hash
    return problems
