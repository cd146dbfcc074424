"""Ingest flows: authenticate devices, validate a batch, hand the fixes to the bus.

Nothing here touches the database on the hot path: device identities are cached, and a miss
is one indexed lookup. While the database is unreachable, ingest goes on with what it has cached
(expired entries included) and answers 503 for senders it cannot check."""

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy.orm import Session

from caseload import sources
from caseload.sources import DeviceIdentity
from core import bus
from core.bus import BrokerUnavailable
from core.cache import DatabaseGate, TtlCache
from core.config import get_settings
from core.db import session_scope
from core.security import device_key_hint, is_device_key
from core.timezones import utcnow
from core.wire import WIRE_DTYPE, encode_fix_record
from tracker_ingest import positions
from tracker_ingest.protocols.common import RawFix
from tracker_ingest.validation import Batch

# Records stay well under the broker's size limit even for the largest batches.
FIXES_PER_RECORD = 5000
# Unregistered devices remembered while their attempts cannot be written (a database outage).
MAX_PENDING_UNKNOWN = 10_000
log = logging.getLogger("ewall.ingest")


@dataclass
class Directory:
    """Everything ingest needs to know about senders, cached; one database gate for all of it."""

    gate: DatabaseGate = field(default_factory=lambda: DatabaseGate(log=log))
    devices: TtlCache[str, DeviceIdentity] = field(init=False)
    device_keys: TtlCache[str, DeviceIdentity] = field(init=False)
    gateways: TtlCache[str, sources.GatewayIdentity] = field(init=False)
    gateway_devices: TtlCache[tuple[tuple[int, ...], str], DeviceIdentity] = field(init=False)
    cameras: TtlCache[str, sources.CameraIdentity] = field(init=False)
    people: TtlCache[tuple[tuple[int, ...], str], int] = field(init=False)

    def __post_init__(self) -> None:
        gate = self.gate
        self.devices = TtlCache(lambda s, token: sources.device_by_token(session=s, token=token), gate=gate)
        self.device_keys = TtlCache(lambda s, key: sources.device_by_secret_key(session=s, key=key), gate=gate)
        self.gateways = TtlCache(lambda s, token: sources.gateway_by_token(session=s, token=token), gate=gate)
        self.gateway_devices = TtlCache(load_many=_gateway_devices, gate=gate)
        self.cameras = TtlCache(lambda s, token: sources.camera_by_token(session=s, token=token), gate=gate)
        self.people = TtlCache(
            lambda s, key: sources.supervisee_by_code(session=s, code=key[1], district_ids=key[0]), gate=gate
        )


def _gateway_devices(session: Session, keys: list[tuple[tuple[int, ...], str]]) -> dict:
    """(district ids, device id) → device, one query per set of districts (a gateway's batch has one)."""
    by_districts: dict[tuple[int, ...], list[str]] = {}
    for districts, name in keys:
        by_districts.setdefault(districts, []).append(name)
    found = {}
    for districts, names in by_districts.items():
        devices = sources.devices_by_external_ids(session=session, external_ids=names, district_ids=districts)
        found |= {(districts, name): device for name, device in devices.items()}
    return found


class FailedSignIns:
    """Requests that failed authentication, per source address, in this process: past the budget an
    address gets only cached answers (429 otherwise), so a flood of made-up ids or tokens costs no
    lookups and adds no unknown devices. Phones behind one carrier NAT share an address, which is why
    known senders, whose identities are cached, still get through."""

    def __init__(self, per_min: int | None = None) -> None:
        self._budget = RateLimitItemPerMinute(per_min or get_settings().ingest_auth_failures_per_min)
        self._windows = FixedWindowRateLimiter(MemoryStorage())

    def wait_s(self, address: str | None) -> int | None:
        """Seconds until ``address`` may have uncached lookups again; None if it may now."""
        if self._windows.test(self._budget, address or "?"):
            return None
        reset_at, _ = self._windows.get_window_stats(self._budget, address or "?")
        return max(1, math.ceil(reset_at - time.time()))

    def failed(self, address: str | None) -> None:
        self._windows.hit(self._budget, address or "?")


class UnknownDevices:
    """Attempts by unregistered devices, counted in memory and written out now and then, so a
    misconfigured fleet cannot turn into a database load."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], list] = {}

    def note(self, protocol: str, key: str, remote_addr: str | None) -> None:
        now = utcnow()
        # A generated key is a password, even a deactivated one: only its hint is kept.
        slot = (protocol, device_key_hint(key) if is_device_key(key) else key[:128])
        if slot not in self._pending and len(self._pending) >= MAX_PENDING_UNKNOWN:
            return  # the database has been away a long time: memory stays bounded, counts are a courtesy
        entry = self._pending.setdefault(slot, [now, now, 0, remote_addr])
        entry[1], entry[2], entry[3] = now, entry[2] + 1, remote_addr

    def flush(self) -> int:
        """Write what was noted (blocking); returns how many devices. If writing fails the attempts
        are kept, merged with those noted meanwhile, for the next flush."""
        pending, self._pending = self._pending, {}
        if pending:
            try:
                with session_scope() as session:
                    settings = get_settings()
                    positions.record_unknown_devices(
                        session,
                        pending,
                        per_addr_hour=settings.unknown_devices_per_addr_hour,
                        per_day=settings.unknown_devices_per_day,
                    )
            except BaseException:
                for slot, (first, last, attempts, addr) in pending.items():
                    newer = self._pending.get(slot)
                    if newer is None:
                        self._pending[slot] = [first, last, attempts, addr]
                    else:
                        newer[0], newer[2] = first, newer[2] + attempts
                raise
        return len(pending)


class FixFunnel:
    """Coalesces the fixes of concurrent requests into shared fixes.v1 records, flushed every few
    milliseconds (or sooner when plenty are waiting). Each request still returns only after the broker
    acknowledged the records holding its fixes; if that fails, every waiting request gets the error.

    A person's fixes always go to partition ``supervisee_id % partitions``, so they keep their order;
    one record per partition and flush keeps records few and large, whatever the number of people."""

    def __init__(self, publisher: bus.Publisher, *, linger_s: float, max_fixes: int = 20_000):
        self._publisher = publisher
        self._linger_s = linger_s
        self._max_fixes = max_fixes
        self._partitions: int | None = None
        self._batches: list[np.ndarray] = []  # WIRE_DTYPE arrays from batch requests
        self._rows: list[tuple] = []  # single fixes from phones, WIRE_DTYPE field order
        self._count = 0
        self._waiter: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task] = set()

    async def submit(self, batch: Batch) -> None:
        if len(batch.rows):
            self._batches.append(batch.rows)
            await self._wait(len(batch.rows))

    async def submit_row(self, row: tuple) -> None:
        """One fix as a tuple in WIRE_DTYPE field order: no array of its own until the flush."""
        self._rows.append(row)
        await self._wait(1)

    async def _wait(self, added: int) -> None:
        if self._waiter is None:
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            self._waiter.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved by someone
            self._timer = loop.call_later(self._linger_s, self._flush_now)
        waiter = self._waiter
        self._count += added
        if self._count >= self._max_fixes:
            self._flush_now()
        await asyncio.shield(waiter)

    def _flush_now(self) -> None:
        if self._waiter is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        parts = self._batches + ([np.array(self._rows, dtype=WIRE_DTYPE)] if self._rows else [])
        waiter = self._waiter
        self._batches, self._rows, self._count, self._waiter, self._timer = [], [], 0, None, None
        task = asyncio.create_task(self._flush(np.concatenate(parts), waiter))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, rows: np.ndarray, waiter: asyncio.Future) -> None:
        try:
            if self._partitions is None:
                self._partitions = await asyncio.to_thread(self._publisher.partition_count, bus.FIXES)
            partition = rows["supervisee_id"] % self._partitions
            order = np.argsort(partition, kind="stable")  # stable: each person's fixes stay in arrival order
            rows, partition = rows[order], partition[order]
            starts = np.flatnonzero(np.r_[True, partition[1:] != partition[:-1]])
            ends = np.r_[starts[1:], len(rows)]
            received_us = int(time.time() * 1_000_000)
            records = [
                (
                    str(int(partition[start])),
                    encode_fix_record(received_us, rows[chunk : min(chunk + FIXES_PER_RECORD, end)]),
                    int(partition[start]),
                )
                for start, end in zip(starts, ends, strict=True)
                for chunk in range(start, end, FIXES_PER_RECORD)
            ]
            await self._publisher.publish_async(bus.FIXES, records)
        except BrokerUnavailable as exc:
            waiter.set_exception(exc)
        else:
            waiter.set_result(None)


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
