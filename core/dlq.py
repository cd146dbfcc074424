"""Dead-letter queues: what admins see of them, and replaying entries once the cause is fixed.

Each ``<topic>.dlq`` entry (written by ``core.bus.dead_letter``) names its source record by topic,
partition and offset, and carries the original key and value. Replaying republishes the original
value, with its key, to the source partition it came from (fixes.v1 relies on a person's records
staying on one partition), so every consumer group reads it again; handlers are idempotent.

Replays are recorded in the ``dlq_replay`` table, one row per source record, claimed with
INSERT … ON CONFLICT DO NOTHING before publishing: two admins replaying at once, or one replaying
twice, publish a record once. A table rather than a marker record on the broker, because the claim
must be atomic and must survive the embedded broker's in-memory storage. The source record is named
by its position *and* a digest of its value, so an offset reused after a broker restart is not
mistaken for one already replayed.
"""

import base64
import binascii
import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import TopicPartition
from sqlalchemy import BigInteger, DateTime, Integer, PrimaryKeyConstraint, String, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import audit, bus
from core.config import Settings, get_settings
from core.db import Base
from core.timezones import utcnow

PREVIEW_BYTES = 200


class DlqReplay(Base):
    """A dead-lettered source record that was replayed: by whom and when."""

    __tablename__ = "dlq_replay"
    __table_args__ = (PrimaryKeyConstraint("topic", "source_partition", "source_offset", "value_sha256"),)

    topic: Mapped[str] = mapped_column(String(200))
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    value_sha256: Mapped[str] = mapped_column(String(64))
    replayed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    replayed_by: Mapped[str] = mapped_column(String(120))


@dataclass(frozen=True)
class Entry:
    """One DLQ record: where it sits in the DLQ, and the source record it parks."""

    dlq_partition: int
    dlq_offset: int
    topic: str  # the logical source topic, e.g. fixes.v1
    partition: int
    offset: int
    key: bytes | None
    group: str | None
    error: str
    failed_at: str | None
    value: bytes
    replayed_at: datetime | None = None
    replayed_by: str | None = None

    @property
    def source(self) -> tuple[str, int, int, str]:
        return self.topic, self.partition, self.offset, hashlib.sha256(self.value).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe, for the CLI and the API: the value in base64, plus a readable preview."""
        return {
            "dlq_partition": self.dlq_partition,
            "dlq_offset": self.dlq_offset,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key.decode(errors="replace") if self.key is not None else None,
            "group": self.group,
            "error": self.error,
            "failed_at": self.failed_at,
            "value_b64": base64.b64encode(self.value).decode(),
            "value_bytes": len(self.value),
            "preview": preview(self.value),
            "replayed_at": self.replayed_at.isoformat() if self.replayed_at else None,
            "replayed_by": self.replayed_by,
        }


@dataclass(frozen=True)
class ReplayResult:
    matched: int  # distinct source records selected
    replayed: int  # republished now
    already: int  # skipped: replayed before


def preview(value: bytes) -> str:
    """The value as text when it is text (JSON topics), else its size (fixes.v1 is binary)."""
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return f"<{len(value)} bytes, binary>"
    return text if len(text) <= PREVIEW_BYTES else text[:PREVIEW_BYTES] + "…"


def topics_named(topic: str | None) -> tuple[str, ...]:
    """The source topics to look at: one (checked) or all."""
    if topic is None:
        return bus.TOPICS
    if topic not in bus.TOPICS:
        raise ValueError(f"unknown topic {topic!r}; one of {', '.join(bus.TOPICS)}")
    return (topic,)


def list_entries(*, session: Session, topics: Sequence[str], settings: Settings | None = None) -> list[Entry]:
    """Every entry in the DLQs of ``topics``, oldest first per DLQ partition, with its replay status."""
    records = read_all([bus.dlq(t) for t in topics], settings)
    entries = [parse(record) for record in records]
    replays = _replays(session, [e.source for e in entries])
    return [
        replace(e, replayed_at=replays[e.source][0], replayed_by=replays[e.source][1]) if e.source in replays else e
        for e in entries
    ]


def select_entries(entries: Iterable[Entry], *, offsets: Sequence[tuple[int | None, int]] | None = None) -> list[Entry]:
    """The entries whose source record is at one of ``offsets`` ((partition or None, offset)), or all;
    one per source record (a record two consumer groups gave up on is in the DLQ twice)."""
    chosen: dict[tuple, Entry] = {}
    for entry in entries:
        if offsets is not None and not any(
            entry.offset == offset and partition in (None, entry.partition) for partition, offset in offsets
        ):
            continue
        chosen.setdefault(entry.source, entry)
    return list(chosen.values())


def replay(
    *, session: Session, publisher: bus.Publisher, entries: Sequence[Entry], actor: str
) -> tuple[ReplayResult, list[Entry]]:
    """Claim the entries not replayed yet, republish them to their source partitions, audit it.

    The caller commits after this returns: if publishing fails the claim rolls back with the
    transaction and nothing counts as replayed."""
    wanted = [e for e in entries if e.replayed_at is None]
    claimed = _claim(session, wanted, actor) if wanted else set()
    chosen = [e for e in wanted if e.source in claimed]
    by_topic: dict[str, list[bus.Record]] = {}
    for entry in chosen:
        key = entry.key.decode(errors="replace") if entry.key is not None else ""
        by_topic.setdefault(entry.topic, []).append((key, entry.value, entry.partition))
    for topic, records in by_topic.items():
        publisher.publish(topic, records)
    if chosen:
        audit.append(
            session,
            actor=actor,
            action="dlq.replay",
            entity="dlq",
            entity_id=",".join(sorted(by_topic)),
            detail={"records": [{"topic": e.topic, "partition": e.partition, "offset": e.offset} for e in chosen]},
        )
    return ReplayResult(matched=len(entries), replayed=len(chosen), already=len(entries) - len(chosen)), chosen


def parse(record: ConsumerRecord) -> Entry:
    """A DLQ record as an Entry (entries written before the value was base64 keep their text)."""
    body = orjson.loads(record.value)
    value = body.get("value") or ""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = value.encode()
    key = body.get("key")
    return Entry(
        dlq_partition=record.partition,
        dlq_offset=record.offset,
        topic=body.get("topic") or record.topic.rsplit(".dlq", 1)[0],
        partition=body["partition"],
        offset=body["offset"],
        key=base64.b64decode(key) if key is not None else record.key,
        group=body.get("group"),
        error=body.get("error") or body.get("reason") or "",
        failed_at=body.get("failed_at"),
        value=raw,
    )


def _replays(session: Session, sources: list[tuple]) -> dict[tuple, tuple[datetime, str]]:
    if not sources:
        return {}
    columns = (DlqReplay.topic, DlqReplay.source_partition, DlqReplay.source_offset, DlqReplay.value_sha256)
    rows = session.execute(
        select(*columns, DlqReplay.replayed_at, DlqReplay.replayed_by).where(tuple_(*columns).in_(set(sources)))
    )
    return {(t, p, o, d): (at, by) for t, p, o, d, at, by in rows}


def _claim(session: Session, entries: list[Entry], actor: str) -> set[tuple]:
    now = utcnow()
    rows = [
        {
            "topic": topic,
            "source_partition": partition,
            "source_offset": offset,
            "value_sha256": digest,
            "replayed_at": now,
            "replayed_by": actor,
        }
        for topic, partition, offset, digest in {e.source for e in entries}
    ]
    statement = (
        insert(DlqReplay)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(DlqReplay.topic, DlqReplay.source_partition, DlqReplay.source_offset, DlqReplay.value_sha256)
    )
    return {tuple(row) for row in session.execute(statement)}


def read_all(topics: Sequence[str], settings: Settings | None = None) -> list[ConsumerRecord]:
    """Every record currently in ``topics`` (all partitions, from the beginning), without a group:
    no join to hang against tansu and no offsets moved. For small topics such as the DLQs."""
    settings = settings or get_settings()
    timeout_ms = int(settings.broker_timeout_s * 1000)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    try:
        partitions = []
        for topic in topics:
            found = consumer.partitions_for_topic(settings.topic(topic))
            partitions += [TopicPartition(settings.topic(topic), p) for p in sorted(found or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions, timeout_ms=timeout_ms)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + settings.broker_timeout_s * 4
        while any(consumer.position(tp, timeout_ms=timeout_ms) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise bus.BrokerUnavailable(f"the broker did not deliver all of {', '.join(topics)} in time")
            for batch in consumer.poll(timeout_ms=200).values():
                records += batch
        return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
    except KafkaError as exc:
        raise bus.BrokerUnavailable(f"could not read {', '.join(topics)}: {exc}") from exc
    finally:
        consumer.close(autocommit=False)
