"""Ingest flows: authenticate devices, validate a batch, hand the fixes to the bus.

Nothing here touches the database on the hot path: device identities are cached, and a miss
is one indexed lookup."""

import time
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

from caseload import service as caseload_service
from caseload.service import DeviceIdentity
from core import bus
from core.db import session_scope
from tracker_ingest.schemas import encode_fix_record
from tracker_ingest.validation import Batch

# Records stay well under the broker's size limit even for the largest batches.
FIXES_PER_RECORD = 5000
Value = TypeVar("Value")


class TtlCache(Generic[Value]):
    """Key → value (or None for "no such thing"), each for a short time, so a deactivated token
    stops working within the TTL and unknown keys do not hammer the database."""

    def __init__(self, load: Callable[[str], Value | None], ttl_s: float = 30.0, max_entries: int = 200_000):
        self._load = load
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[str, tuple[Value | None, float]] = {}

    def cached(self, key: str) -> tuple[bool, Value | None]:
        hit = self._entries.get(key)
        if hit is None or hit[1] < time.monotonic():
            return False, None
        return True, hit[0]

    def get(self, key: str) -> Value | None:
        """Cache first, then the loader (blocking: call from a worker thread)."""
        found, value = self.cached(key)
        if found:
            return value
        value = self._load(key)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (value, time.monotonic() + self._ttl_s)
        return value


def _device_by_token(token: str) -> DeviceIdentity | None:
    with session_scope() as session:
        return caseload_service.device_by_token(session=session, token=token)


def device_cache() -> TtlCache[DeviceIdentity]:
    return TtlCache(_device_by_token)


async def publish(publisher: bus.Publisher, batch: Batch, received_us: int) -> None:
    """Send accepted fixes to fixes.v1, keyed by supervisee; returns once the broker acknowledged all."""
    records = []
    for identity, fixes in batch.by_device:
        key = str(identity.supervisee_id)
        for start in range(0, len(fixes), FIXES_PER_RECORD):
            chunk = np.ascontiguousarray(fixes[start : start + FIXES_PER_RECORD])
            records.append((key, encode_fix_record(identity.supervisee_id, identity.device_id, received_us, chunk)))
    await publisher.publish_async(bus.FIXES, records)
