"""Ingest rules: authenticate devices, validate and normalise fixes, hand them to the bus.

Nothing here touches the database on the hot path: device identities are cached, and a miss
is one indexed lookup by token hash."""

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from caseload import service as caseload_service
from caseload.service import DeviceIdentity
from core import bus
from core.config import Settings
from core.db import session_scope
from core.timezones import utcnow
from tracker_ingest.schemas import FixRow, NativeFix, RejectedRecord, encode_fix_record

# Records stay well under the broker's size limit even for the largest batches.
FIXES_PER_RECORD = 2000


class DeviceDirectory:
    """Token → device identity, cached for a short time so a deactivated token stops within the TTL."""

    def __init__(self, ttl_s: float = 30.0):
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[DeviceIdentity | None, float]] = {}

    def cached(self, token: str) -> tuple[bool, DeviceIdentity | None]:
        hit = self._cache.get(token)
        if hit is None or hit[1] < time.monotonic():
            return False, None
        return True, hit[0]

    def lookup(self, token: str) -> DeviceIdentity | None:
        """Cache first, then the database (blocking: call from a worker thread)."""
        found, identity = self.cached(token)
        if found:
            return identity
        with session_scope() as session:
            identity = caseload_service.device_by_token(session=session, token=token)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[token] = (identity, time.monotonic() + self._ttl_s)
        return identity


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{field}: {error['msg']}")
    return "; ".join(parts)


def _to_us(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("ts: a time zone offset is required (e.g. 2026-11-23T08:00:00Z)")
    return int(ts.timestamp() * 1_000_000)


def validate_native_fixes(
    raw_fixes: Sequence[Any], *, identity: DeviceIdentity, settings: Settings, now: datetime | None = None
) -> tuple[list[FixRow], list[RejectedRecord]]:
    """Check every record; return the good ones as rows and a reason for each bad one."""
    now = now or utcnow()
    newest_us = _to_us(now + timedelta(seconds=settings.max_fix_future_s))
    oldest_us = _to_us(now - timedelta(days=settings.fix_retention_days))
    received_us = _to_us(now)
    rows: list[FixRow] = []
    rejected: list[RejectedRecord] = []
    for index, raw in enumerate(raw_fixes):
        try:
            fix = NativeFix.model_validate(raw)
            if fix.device_id is not None and fix.device_id != identity.external_id:
                raise ValueError(f"device_id '{fix.device_id}' does not match the token's device")
            if fix.lat == 0 and fix.lon == 0:
                raise ValueError("lat/lon 0,0 is a receiver's placeholder, not a position")
            ts_us = _to_us(fix.ts)
            if ts_us > newest_us:
                raise ValueError(f"ts is more than {settings.max_fix_future_s} s in the future; check the device clock")
            if ts_us < oldest_us:
                raise ValueError(f"ts is older than the {settings.fix_retention_days}-day retention window")
        except ValidationError as exc:
            rejected.append(RejectedRecord(index=index, error=_format_validation_error(exc)))
            continue
        except ValueError as exc:
            rejected.append(RejectedRecord(index=index, error=str(exc)))
            continue
        rows.append(
            FixRow(
                ts_us,
                fix.lat,
                fix.lon,
                fix.accuracy_m,
                fix.speed_mps,
                fix.heading_deg,
                fix.altitude_m,
                fix.battery_pct,
                fix.source.value,
                received_us,
            )
        )
    return rows, rejected


async def publish_fixes(publisher: bus.Publisher, identity: DeviceIdentity, rows: list[FixRow]) -> None:
    """Send to fixes.v1 keyed by supervisee; returns once the broker acknowledged every record."""
    key = str(identity.supervisee_id)
    records = [
        (key, encode_fix_record(identity.supervisee_id, identity.device_id, rows[i : i + FIXES_PER_RECORD]))
        for i in range(0, len(rows), FIXES_PER_RECORD)
    ]
    await publisher.publish_async(bus.FIXES, records)
