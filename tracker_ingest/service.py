"""Ingest flows: authenticate devices, validate a batch, hand the fixes to the bus.

Nothing here touches the database on the hot path: device identities are cached, and a miss
is one indexed lookup. While the database is unreachable, ingest goes on with what it has cached
(expired entries included) and answers 503 for senders it cannot check."""

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
from sqlalchemy.orm import Session

from caseload import sources
from caseload.service import DeviceIdentity
from core import bus
from core.bus import BrokerUnavailable
from core.config import get_settings
from core.db import is_unreachable, session_scope
from core.heartbeat import first_line
from core.timezones import utcnow
from core.wire import WIRE_DTYPE, encode_fix_record
from tracker_ingest import positions
from tracker_ingest.protocols.common import RawFix
from tracker_ingest.validation import Batch

# Records stay well under the broker's size limit even for the largest batches.
FIXES_PER_RECORD = 5000
# Unregistered devices remembered while their attempts cannot be written (a database outage).
MAX_PENDING_UNKNOWN = 10_000
Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")
log = logging.getLogger("ewall.ingest")


class DirectoryUnavailable(RuntimeError):
    """The database is unreachable and the cache cannot answer for this key: ask the sender to retry."""


class DatabaseGate:
    """Whether lookups should try the database now. After a failure they do not for ``retry_s``, so
    while it is down a request costs no connection attempt; logged once when it goes and comes back."""

    def __init__(self, retry_s: float = 2.0):
        self._retry_s = retry_s
        self._closed_until = 0.0
        self._down_since: float | None = None
        self._lock = threading.Lock()

    def open(self) -> bool:
        return time.monotonic() >= self._closed_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._closed_until = time.monotonic() + self._retry_s
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("database unreachable: %s; serving cached devices, 503 for the others", first_line(exc))

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is not None:
                log.info("database back after %.0f s", time.monotonic() - self._down_since)
            self._down_since = None


class TtlCache(Generic[Key, Value]):
    """Key → value (or None for "no such thing"), each for a short time, so a deactivated token
    stops working within the TTL and unknown keys do not hammer the database.

    When the database cannot be reached an expired entry is used anyway (a known device's fixes are
    accepted stale rather than refused); a key with no entry, or an expired "no such thing", raises
    DirectoryUnavailable: it cannot be checked."""

    def __init__(
        self,
        load: Callable[[Session, Key], Value | None] | None = None,
        *,
        load_many: Callable[[Session, list[Key]], dict[Key, Value]] | None = None,
        ttl_s: float | None = None,
        max_entries: int = 200_000,
        gate: DatabaseGate | None = None,
    ):
        self._load = load or (lambda session, key: load_many(session, [key]).get(key))
        self._load_many = load_many
        self._ttl_s = ttl_s if ttl_s is not None else get_settings().ingest_directory_ttl_s
        self._max_entries = max_entries
        self._entries: dict[Key, tuple[Value | None, float]] = {}
        self._gate = gate or DatabaseGate()

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
        return self._from_database([key], lambda session: {key: self._load(session, key)})[key]

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Value | None]:
        """``get`` for many keys, the missing ones in one query (needs ``load_many``; blocking)."""
        keys = set(keys)
        answers, complete = self.cached_many(keys)
        if not complete:
            missing = list(keys - answers.keys())
            answers |= self._from_database(missing, lambda session: self._load_many(session, missing))
        return answers

    def _from_database(self, keys: list[Key], load: Callable[[Session], dict]) -> dict[Key, Value | None]:
        if self._gate.open():
            try:
                with session_scope() as session:
                    loaded = load(session)
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                self._gate.failed(exc)
            else:
                self._gate.succeeded()
                fresh = {key: loaded.get(key) for key in keys}
                self._keep(fresh)
                return fresh
        return {key: self._stale(key) for key in keys}

    def _stale(self, key: Key) -> Value:
        hit = self._entries.get(key)
        if hit is None or hit[0] is None:
            raise DirectoryUnavailable("the device directory cannot be checked right now (database unreachable)")
        return hit[0]

    def cached_many(self, keys: Iterable[Key]) -> tuple[dict[Key, Value | None], bool]:
        """What is cached of these keys, and whether that is all of them (without leaving the loop)."""
        answers, complete = {}, True
        for key in keys:
            found, value = self.cached(key)
            if found:
                answers[key] = value
            else:
                complete = False
        return answers, complete

    def _keep(self, values: dict[Key, Value | None]) -> None:
        if len(self._entries) + len(values) > self._max_entries:
            self._entries.clear()
        until = time.monotonic() + self._ttl_s
        self._entries.update({key: (value, until) for key, value in values.items()})


@dataclass
class Directory:
    """Everything ingest needs to know about senders, cached; one database gate for all of it."""

    gate: DatabaseGate = field(default_factory=DatabaseGate)
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


class UnknownDevices:
    """Attempts by unregistered devices, counted in memory and written out now and then, so a
    misconfigured fleet cannot turn into a database load."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], list] = {}

    def note(self, protocol: str, key: str, remote_addr: str | None) -> None:
        now = utcnow()
        slot = (protocol, key[:128])
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
                    positions.record_unknown_devices(session, pending)
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
