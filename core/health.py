"""Liveness and readiness: every process's heartbeat, each consumer group's lag, and what ``/ready``
and ``./ewall status`` make of them.

``/health`` only says the process answers. Readiness says whether the platform can do its work: the
database and the broker answer, every role has a process that beat recently, and no consumer group
is further behind than the threshold."""

import contextlib
import threading
from dataclasses import dataclass
from datetime import datetime

from kafka import KafkaAdminClient
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError
from kafka.structs import TopicPartition
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core import bus
from core.config import Settings, get_settings
from core.db import session_scope
from core.errors import first_line
from core.heartbeat import latest_beats
from core.timezones import utcnow

# Every role the platform needs running; a worker role is also its consumer group, if it has one.
ROLES = ("ingest", "portal", "persist", "geofence", "alerts", "watchdog", "rollcall")


# Consumer-group lag, read from the broker -------------------------------------------------------

_admin: KafkaAdminClient | None = None
_admin_lock = threading.Lock()


def _admin_client(settings: Settings) -> KafkaAdminClient:
    global _admin
    with _admin_lock:
        if _admin is None:
            timeout_ms = int(settings.broker_timeout_s * 1000)
            _admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=timeout_ms)
        return _admin


def _drop_admin_client() -> None:
    global _admin
    with _admin_lock:
        if _admin is not None:
            with contextlib.suppress(Exception):  # already broken: only its sockets are freed
                _admin.close()
            _admin = None


def group_lags(settings: Settings | None = None) -> dict[str, int]:
    """Records each consumer group has yet to consume (end offset minus committed), from the broker.

    Raises ``BrokerUnavailable`` when the broker does not answer."""
    settings = settings or get_settings()
    try:
        admin = _admin_client(settings)
        known = _partitions(admin, sorted({settings.topic(t) for topics in bus.GROUPS.values() for t in topics}))
        partitions = {
            group: [p for topic in topics for p in known.get(settings.topic(topic), [])]
            for group, topics in bus.GROUPS.items()
        }
        ends = admin.list_partition_offsets({p: OffsetSpec.LATEST for ps in partitions.values() for p in ps})
        committed = admin.list_group_offsets({settings.topic(group): ps for group, ps in partitions.items()})
    except (KafkaError, OSError) as exc:
        _drop_admin_client()
        raise bus.BrokerUnavailable(f"the broker did not answer: {exc!r}") from exc
    lags = {}
    for group, ps in partitions.items():
        offsets = committed.get(settings.topic(group), {})
        lags[group] = sum(max(ends[p].offset - _committed(offsets.get(p)), 0) for p in ps)
    return lags


def _committed(offset) -> int:
    return offset.offset if offset is not None and offset.offset >= 0 else 0


def _partitions(admin: KafkaAdminClient, topics: list[str]) -> dict[str, list[TopicPartition]]:
    """Each existing topic's partitions (a topic missing after a broker restart has none yet)."""
    return {
        d["name"]: [TopicPartition(d["name"], p["partition_index"]) for p in d["partitions"]]
        for d in admin.describe_topics(topics)
        if d["error_code"] == 0
    }


# Readiness --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def readiness(settings: Settings | None = None) -> list[Check]:
    """Database, broker, every role's heartbeat and every group's lag, each with a reason."""
    settings = settings or get_settings()
    checks = []
    beats: dict[str, datetime] | None = None
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
            beats = latest_beats(session)
        checks.append(Check("database", True, "answers"))
    except SQLAlchemyError as exc:
        checks.append(Check("database", False, f"does not answer: {first_line(exc)}"))
    try:
        lags = group_lags(settings)
        checks.append(Check("broker", True, "answers"))
    except bus.BrokerUnavailable as exc:
        lags = None
        checks.append(Check("broker", False, str(exc)))
    now = utcnow()
    for role in ROLES:
        if beats is None:
            checks.append(Check(role, False, "heartbeat unknown: the database does not answer"))
            continue
        beat = beats.get(role)
        age_s = (now - beat).total_seconds() if beat else None
        alive = age_s is not None and age_s <= settings.ready_heartbeat_max_age_s
        detail = "no heartbeat yet" if age_s is None else f"last heartbeat {age_s:.0f} s ago"
        if role in bus.GROUPS and lags is not None:
            lag = lags[role]
            behind = lag > settings.ready_max_lag_records
            detail += f", lag {lag} records" + (f" (over {settings.ready_max_lag_records})" if behind else "")
            alive = alive and not behind
        checks.append(Check(role, alive, detail))
    return checks


def readiness_report(settings: Settings | None = None) -> tuple[bool, dict]:
    """(ready, body) for the ``/ready`` endpoints."""
    checks = readiness(settings)
    ready = all(c.ok for c in checks)
    body = {
        "status": "ready" if ready else "unready",
        "reasons": [f"{c.name}: {c.detail}" for c in checks if not c.ok],
        "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
    }
    return ready, body
