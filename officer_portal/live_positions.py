"""Live positions for the caseload map: fixes.v1 tailed by each portal process and fanned out to the
officers' maps over server-sent events.

The consumer joins no group (``bus.tail_consumer``), so the workers' groups and their offsets are
untouched. Each poll's fixes are decoded in one numpy call; every ``BATCH_S`` the latest fix of each
person seen since the last flush (by fix time) goes to each connected map whose caseload holds that
person, as one ``positions`` event of columns. A map therefore receives at most one update per person
per batch, whatever the phones send. A client too slow to take a batch is dropped; its browser
reconnects and re-reads ``GET /api/v1/positions/live``, so the latest position is never lost, only
the moves in between. A client's caseload is read when it subscribes and again every
``SCOPE_REFRESH_S`` (transfers between officers)."""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import ServerSentEvent

from caseload import service as caseload_service
from core import bus
from core.db import session_scope
from core.logs import configure
from core.wire import WIRE_DTYPE, UndecodableRecord, decode_fix_record
from officer_portal import live

log = configure("ewall.portal.positions")

BATCH_S = 1.0  # one event per map per second at most
QUEUE_SIZE = 4  # batches a client may fall behind by before it is dropped
SCOPE_REFRESH_S = 60.0
RETRY_MS = 3000
MAX_CASELOAD = 200_000  # a whole country's map is beyond one browser anyway


def caseload_ids(officer_id: int) -> np.ndarray:
    """The sorted ids of the active supervisees the officer may see (empty if the officer is gone)."""
    with session_scope() as session:
        viewer = caseload_service.get_active_officer(session=session, officer_id=officer_id)
        if viewer is None:
            return np.empty(0, np.int64)
        people = caseload_service.roster(session=session, viewer=viewer, limit=MAX_CASELOAD)
        return np.array([p.id for p in people], np.int64)  # by id already


def latest_per_person(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Of fixes in columns (supervisee_id, ts_us, lat, lon, accuracy_m), each person's latest by fix time."""
    if not len(columns["supervisee_id"]):
        return columns
    order = np.lexsort((columns["ts_us"], columns["supervisee_id"]))
    people = columns["supervisee_id"][order]
    last = order[np.append(people[1:] != people[:-1], True)]
    return {name: values[last] for name, values in columns.items()}


def batch_for(latest: dict[str, np.ndarray], caseload: np.ndarray) -> dict | None:
    """The event data for one map: the latest fixes of the people in its caseload (sorted ids), as
    columns; None when it has none of them. Times are milliseconds since the epoch, UTC."""
    ids = latest["supervisee_id"]
    if not len(ids) or not len(caseload):
        return None
    at = np.minimum(np.searchsorted(caseload, ids), len(caseload) - 1)
    mine = caseload[at] == ids
    if not mine.any():
        return None
    accuracy = latest["accuracy_m"][mine].astype(np.float64)
    return {
        "id": ids[mine].tolist(),
        "ts": (latest["ts_us"][mine] // 1000).tolist(),
        "lat": np.round(latest["lat"][mine], 7).tolist(),
        "lon": np.round(latest["lon"][mine], 7).tolist(),
        # NaN (not reported) is no JSON: null.
        "acc": [None if a != a else round(a, 1) for a in accuracy.tolist()],
    }


_FIELDS = ("supervisee_id", "ts_us", "lat", "lon", "accuracy_m")


def decode_records(values: list[bytes]) -> dict[str, np.ndarray]:
    """The fixes of fixes.v1 record values as columns; unreadable records are skipped (the workers
    dead-letter them)."""
    rows = []
    for value in values:
        try:
            rows.append(decode_fix_record(value).rows)
        except UndecodableRecord:
            continue
    joined = np.concatenate(rows) if rows else np.empty(0, WIRE_DTYPE)
    return {name: np.asarray(joined[name]) for name in _FIELDS}


@dataclass(eq=False)
class _Map:
    officer_id: int
    caseload: np.ndarray
    read_at: float = field(default_factory=time.monotonic)
    # None ends the stream: the browser reconnects and re-reads the live positions.
    queue: asyncio.Queue[dict | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))


class PositionsHub(live.TopicFanOut):
    """One per portal process: the thread tailing fixes.v1, and the connected maps."""

    topic = bus.FIXES
    what = "positions"

    def __init__(self) -> None:
        super().__init__()
        self._snapshot: tuple[_Map, ...] = ()  # what the thread reads of the maps: replaced whole

    async def events(self, *, officer_id: int) -> AsyncIterator[ServerSentEvent]:
        """One map's stream: ``ready`` (the page then re-reads the live positions, so nothing falls
        between that read and the stream), then a ``positions`` event per batch."""
        caseload = await run_in_threadpool(caseload_ids, officer_id)
        with self._subscription(_Map(officer_id, caseload)) as queue:
            yield ServerSentEvent(event="ready", data={"people": len(caseload)}, retry=RETRY_MS)
            while (batch := await queue.get()) is not None:
                yield ServerSentEvent(event="positions", data=batch)

    def _clients_changed(self) -> None:
        self._snapshot = tuple(self._clients)

    # On the event loop ----------------------------------------------------------------------------

    def _deliver(self, batches: list[tuple[_Map, dict]]) -> None:
        for client, batch in batches:
            if client in self._clients:
                self._offer(client, batch)

    @staticmethod
    def _rescope(client: _Map, caseload: np.ndarray) -> None:
        client.caseload = caseload

    # On the consumer thread -----------------------------------------------------------------------

    def _pump(self, consumer) -> None:
        pending: list[bytes] = []
        flush_at = time.monotonic() + BATCH_S
        while not self._stop.is_set():
            polled = consumer.poll(timeout_ms=max(1, int((flush_at - time.monotonic()) * 1000)))
            if self._snapshot:
                pending += [r.value for batch in polled.values() for r in batch if r.value]
            if time.monotonic() < flush_at:
                continue
            flush_at = time.monotonic() + BATCH_S
            maps, values, pending = self._snapshot, pending, []
            self._refresh_scopes(maps)
            if not maps or not values:
                continue
            latest = latest_per_person(decode_records(values))
            batches = [(m, b) for m in maps if (b := batch_for(latest, m.caseload)) is not None]
            if batches:
                self._on_loop(self._deliver, batches)

    def _refresh_scopes(self, maps: tuple[_Map, ...]) -> None:
        """Re-read the caseload of one map whose copy is older than SCOPE_REFRESH_S (one per batch,
        so many maps do not stall the feed at once)."""
        now = time.monotonic()
        for client in maps:
            if now - client.read_at > SCOPE_REFRESH_S:
                client.read_at = now
                try:
                    self._on_loop(self._rescope, client, caseload_ids(client.officer_id))
                except Exception:
                    log.exception("could not re-read officer %d's caseload; keeping the last one", client.officer_id)
                return
