"""Append-only, hash-chained audit log, anchored outside the database.

Each row's hash covers the previous row's hash, so editing or deleting a row breaks the chain from
there on. Two things the database cannot forge back it up, both keyed by ``EWALL_AUDIT_KEY``, which
is kept out of the database:

- each row's ``seal``, an HMAC of its hash: whoever rewrites the whole table (recomputing every hash,
  even as a superuser) cannot seal the new rows;
- checkpoints of the chain's head (last id, its hash, the count of entries), HMAC'd, appended to a
  file outside the database (``EWALL_AUDIT_ANCHOR_FILE``) by the watchdog each round and by
  ``./ewall audit verify``: a deleted tail or an emptied table falls short of the last checkpoint.

What remains open: entries appended after the last checkpoint (at most one watchdog round, 30 s by
default) can be cut off unseen, and whoever holds the key and can write the anchor file (the app's
host) can forge both. Production therefore ships the checkpoints to another host or WORM storage.
"""

import fcntl
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import BigInteger, DateTime, Integer, Select, String, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.config import get_settings
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
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The district the entry concerns (for auditors' scope); None for platform-wide entries.
    district_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # HMAC of ``hash`` under the audit key; None only on entries written before sealing began.
    seal: Mapped[str | None] = mapped_column(String(64))


def _key() -> bytes:
    key = get_settings().audit_key
    if not key:
        raise RuntimeError("EWALL_AUDIT_KEY is not set: ./ewall generates it into .run/ewall.env; production sets it")
    return key.encode()


def _mac(payload: bytes) -> str:
    return hmac.new(_key(), payload, hashlib.sha256).hexdigest()


def _row_hash(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    detail: dict[str, Any],
    district_id: int | None = None,
) -> str:
    fields = [prev_hash, at.astimezone(UTC).isoformat(), actor, action, entity, entity_id, detail]
    if district_id is not None:  # entries from before the column hash as they always did
        fields.append(district_id)
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    detail: dict[str, Any] | None = None,
    district_id: int | None = None,
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
    row_hash = _row_hash(prev, at, actor, action, entity, str(entity_id), detail, district_id)
    entry = AuditLog(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        detail=detail,
        prev_hash=prev,
        hash=row_hash,
        district_id=district_id,
        seal=_mac(row_hash.encode()),
    )
    session.add(entry)
    session.flush()
    session.info[_CHAIN_END] = (transaction, entry.hash)
    return entry


# Checkpoints (the anchor outside the database) -----------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    at: str
    last_id: int
    head_hash: str
    count: int

    def payload(self) -> bytes:
        return orjson.dumps([self.at, self.last_id, self.head_hash, self.count])


def _anchor_path(anchor: Path | None) -> Path:
    return anchor or get_settings().audit_anchor_file


_HEAD = text(
    "SELECT coalesce(h.id, 0), coalesce(h.hash, :genesis), c.n FROM (SELECT count(*) AS n FROM audit_log) c"
    " LEFT JOIN LATERAL (SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1) h ON true"
).bindparams(genesis=GENESIS_HASH)


def checkpoint(session: Session, *, anchor: Path | None = None) -> Checkpoint | None:
    """Append the chain's committed head to the anchor file, if there is one and it moved since the
    last checkpoint."""
    path = _anchor_path(anchor)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as file:
        # Under the lock, so that checkpoints from the watchdog and from verify stay in order.
        fcntl.flock(file, fcntl.LOCK_EX)
        # One statement, so one snapshot: the head and the count agree, and (taken under the lock)
        # it is no older than the file's last checkpoint.
        last_id, head_hash, count = session.execute(_HEAD).one()
        file.seek(0)
        lines = file.read().splitlines()
        if last_id == 0 or (lines and orjson.loads(lines[-1])["last_id"] == last_id):
            return None  # nothing to anchor yet, or nothing new
        point = Checkpoint(at=utcnow().isoformat(), last_id=last_id, head_hash=head_hash, count=count)
        record = {"at": point.at, "last_id": last_id, "head_hash": head_hash, "count": count}
        file.write(orjson.dumps({**record, "mac": _mac(point.payload())}) + b"\n")
        file.flush()
        return point


def _checkpoints(path: Path, problems: list[str]) -> list[Checkpoint]:
    if not path.exists():
        return []
    with path.open("rb") as file:
        fcntl.flock(file, fcntl.LOCK_SH)
        lines = file.read().splitlines()
    points = []
    for number, line in enumerate(lines, 1):
        try:
            record = orjson.loads(line)
            point = Checkpoint(record["at"], record["last_id"], record["head_hash"], record["count"])
            sealed = hmac.compare_digest(record["mac"], _mac(point.payload()))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            sealed = False
        if not sealed:
            problems.append(f"{path} line {number}: checkpoint unreadable or not sealed by the audit key (forged)")
            continue
        if points and (point.last_id < points[-1].last_id or point.count < points[-1].count):
            problems.append(f"{path} line {number}: checkpoint goes backwards (the file was edited)")
        points.append(point)
    return points


# Verification --------------------------------------------------------------------------------------


def verify(session: Session, *, anchor: Path | None = None) -> list[str]:
    """Walk the chain against its seals and the anchor's checkpoints; one message per problem found
    (empty when intact)."""
    problems: list[str] = []
    # Read before the table: every checkpoint in the file names rows committed before this query.
    expected = {p.last_id: p for p in _checkpoints(_anchor_path(anchor), problems) if p.last_id}
    prev, count, sealing = GENESIS_HASH, 0, False
    for row in session.scalars(select(AuditLog).order_by(AuditLog.id)).yield_per(5000):
        count += 1
        if row.prev_hash != prev:
            problems.append(f"audit_log id {row.id}: previous-hash link broken (a row before it was removed)")
        fields = (row.prev_hash, row.at, row.actor, row.action, row.entity, row.entity_id, row.detail)
        if row.hash != _row_hash(*fields, row.district_id):
            problems.append(f"audit_log id {row.id}: content does not match its hash (row edited)")
        if row.seal is not None:
            sealing = True
            if not hmac.compare_digest(row.seal, _mac(row.hash.encode())):
                problems.append(f"audit_log id {row.id}: seal does not match (row rewritten without the audit key)")
        elif sealing:
            problems.append(f"audit_log id {row.id}: unsealed entry after sealed ones (row rewritten)")
        if (point := expected.pop(row.id, None)) and (point.head_hash != row.hash or point.count != count):
            problems.append(
                f"audit_log id {row.id}: differs from the checkpoint of {point.at} "
                f"(hash {point.head_hash[:12]}…, {point.count} entries; found {row.hash[:12]}…, {count})"
            )
        prev = row.hash
    for point in expected.values():
        problems.append(
            f"checkpoint of {point.at}: entry id {point.last_id} ({point.count} entries) is missing "
            f"(the chain's tail was cut or the table emptied; {count} entries remain)"
        )
    return problems


def tamper_powers(session: Session) -> list[str]:
    """What the connected (app's) role could do to audit_log beyond reading and appending."""
    row = session.execute(
        text(
            "SELECT r.rolsuper, r.rolcreaterole, pg_has_role(current_user, c.relowner, 'MEMBER'),"
            " has_table_privilege('audit_log', 'UPDATE'), has_table_privilege('audit_log', 'DELETE'),"
            " has_table_privilege('audit_log', 'TRUNCATE')"
            " FROM pg_class c, pg_roles r WHERE c.oid = 'audit_log'::regclass AND r.rolname = current_user"
        )
    ).one()
    names = (
        "superuser",
        "CREATEROLE (can make itself the table's owner)",
        "owns audit_log (ALTER: can disable its trigger, DROP)",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
    )
    return [name for name, can in zip(names, row, strict=True) if can]


# Reading (the auditors' API) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # None: every district and the platform-wide entries; else these districts only.
    district_ids: list[int] | None = None


def _query(filters: Filters) -> Select:
    query = select(AuditLog)
    for column, value in (
        (AuditLog.actor, filters.actor),
        (AuditLog.action, filters.action),
        (AuditLog.entity, filters.entity),
        (AuditLog.entity_id, filters.entity_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(AuditLog.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditLog.at < filters.until)
    if filters.district_ids is not None:
        query = query.where(AuditLog.district_id.in_(filters.district_ids))
    return query


def list_entries(session: Session, *, filters: Filters, after_id: int = 0, limit: int) -> list[AuditLog]:
    """Entries matching the filters, oldest first, from after ``after_id`` (keyset pagination)."""
    query = _query(filters).where(AuditLog.id > after_id).order_by(AuditLog.id).limit(limit)
    return list(session.scalars(query))


def iter_entries(session: Session, *, filters: Filters) -> Iterator[AuditLog]:
    """Every entry matching the filters, oldest first, streamed from the server in chunks."""
    yield from session.scalars(_query(filters).order_by(AuditLog.id).execution_options(yield_per=2000))


# The chain's status (the auditors' page) -----------------------------------------------------------


def last_checkpoint(*, anchor: Path | None = None) -> Checkpoint | None:
    """The newest sealed checkpoint in the anchor file, if any."""
    return next(reversed(_checkpoints(_anchor_path(anchor), [])), None)


def sealed_head(session: Session) -> AuditLog | None:
    """The newest entry carrying a seal: the chain is sealed up to it."""
    return session.scalar(select(AuditLog).where(AuditLog.seal.is_not(None)).order_by(AuditLog.id.desc()).limit(1))
