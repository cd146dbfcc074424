"""Ingest flows: authenticate devices, validate a batch, hand the fixes to the bus.

Nothing here touches the database on the hot path: device identities are cached, and a miss
is one indexed lookup."""

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
from sqlalchemy.orm import Session

from caseload import service as caseload_service
from caseload import sources
from caseload.service import DeviceIdentity
from core import bus
from core.db import session_scope
from core.timezones import utcnow
from tracker_ingest import positions
from tracker_ingest.protocols.common import RawFix
from tracker_ingest.schemas import encode_fix_record
from tracker_ingest.validation import Batch

# Records stay well under the broker's size limit even for the largest batches.
FIXES_PER_RECORD = 5000
Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class TtlCache(Generic[Key, Value]):
    """Key → value (or None for "no such thing"), each for a short time, so a deactivated token
    stops working within the TTL and unknown keys do not hammer the database."""

    def __init__(self, load: Callable[[Session, Key], Value | None], ttl_s: float = 30.0, max_entries: int = 200_000):
        self._load = load
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[Key, tuple[Value | None, float]] = {}

    def cached(self, key: Key) -> tuple[bool, Value | None]:
        hit = self._entries.get(key)
        if hit is None or hit[1] < time.monotonic():
            return False, None
        return True, hit[0]

    def get(self, key: Key) -> Value | None:
        """Cache first, then the database (blocking: call from a worker thread)."""
        found, value = self.cached(key)
        if found:
            return value
        with session_scope() as session:
            value = self._load(session, key)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (value, time.monotonic() + self._ttl_s)
        return value


@dataclass
class Directory:
    """Everything ingest needs to know about senders, cached."""

    devices: TtlCache[str, DeviceIdentity] = field(
        default_factory=lambda: TtlCache(
            lambda session, token: caseload_service.device_by_token(session=session, token=token)
        )
    )
    device_keys: TtlCache[str, DeviceIdentity] = field(
        default_factory=lambda: TtlCache(lambda session, key: sources.device_by_secret_key(session=session, key=key))
    )
    gateways: TtlCache[str, sources.GatewayIdentity] = field(
        default_factory=lambda: TtlCache(lambda session, token: sources.gateway_by_token(session=session, token=token))
    )
    gateway_devices: TtlCache[tuple[tuple[int, ...], str], DeviceIdentity] = field(
        default_factory=lambda: TtlCache(
            lambda session, key: sources.device_by_external_id(session=session, external_id=key[1], district_ids=key[0])
        )
    )
    cameras: TtlCache[str, sources.CameraIdentity] = field(
        default_factory=lambda: TtlCache(lambda session, token: sources.camera_by_token(session=session, token=token))
    )
    people: TtlCache[tuple[tuple[int, ...], str], int] = field(
        default_factory=lambda: TtlCache(
            lambda session, key: sources.supervisee_by_code(session=session, code=key[1], district_ids=key[0])
        )
    )


class UnknownDevices:
    """Attempts by unregistered devices, counted in memory and written out now and then, so a
    misconfigured fleet cannot turn into a database load."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], list] = {}

    def note(self, protocol: str, key: str, remote_addr: str | None) -> None:
        now = utcnow()
        entry = self._pending.setdefault((protocol, key[:128]), [now, now, 0, remote_addr])
        entry[1], entry[2], entry[3] = now, entry[2] + 1, remote_addr

    def flush(self) -> int:
        """Write what was noted (blocking); returns how many devices."""
        pending, self._pending = self._pending, {}
        if pending:
            with session_scope() as session:
                positions.record_unknown_devices(session, pending)
        return len(pending)


async def publish(publisher: bus.Publisher, batch: Batch, received_us: int) -> None:
    """Send accepted fixes to fixes.v1, keyed by supervisee; returns once the broker acknowledged all."""
    records = []
    for identity, fixes in batch.by_device:
        key = str(identity.supervisee_id)
        for start in range(0, len(fixes), FIXES_PER_RECORD):
            chunk = np.ascontiguousarray(fixes[start : start + FIXES_PER_RECORD])
            records.append((key, encode_fix_record(identity.supervisee_id, identity.device_id, received_us, chunk)))
    await publisher.publish_async(bus.FIXES, records)


def as_native(raw: RawFix) -> dict:
    """A protocol's parsed fix in the native record shape, so every protocol shares one validation."""
    record = {"ts": raw.ts or utcnow(), "lat": raw.lat, "lon": raw.lon, "source": raw.source}
    for name in ("accuracy_m", "speed_mps", "heading_deg", "altitude_m", "battery_pct", "datum"):
        if (value := getattr(raw, name)) is not None:
            record[name] = value
    return record


async def publish_radio(publisher: bus.Publisher, identity: DeviceIdentity, raw: RawFix, received_us: int) -> None:
    """A report with cell/wifi data but no position, to radio.v1."""
    ts = raw.ts or utcnow()
    record = {
        "supervisee_id": identity.supervisee_id,
        "device_id": identity.device_id,
        "ts_us": int(ts.timestamp() * 1_000_000),
        "received_us": received_us,
        "radio": raw.radio,
    }
    await publisher.publish_async(bus.RADIO, [(str(identity.supervisee_id), bus.encode(record))])


async def publish_sightings(publisher: bus.Publisher, sightings: list[dict]) -> None:
    await publisher.publish_async(bus.SIGHTINGS, [(str(s["supervisee_id"]), bus.encode(s)) for s in sightings])
