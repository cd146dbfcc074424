"""Live notification to the portal: alert changes fanned out to officers' browsers over server-sent
events.

Each portal process runs one broker consumer, in a thread because kafka-python blocks, that tails
alerts.v1. For each batch it asks the database once which connected officers may see each alert
(the rule of ``GET /api/v1/alerts/{id}``) and what the alert queue shows of it, then hands the
notices to the event loop, which puts each on its audience's bounded queues. A client too slow to
keep up is dropped rather than allowed to hold the others back; its browser reconnects and catches
up from the database, starting at the last event it saw (Last-Event-ID)."""

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi.concurrency import run_in_threadpool
from fastapi.sse import ServerSentEvent
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy.orm import Session

from alerts import service as alerts_service
from alerts.models import Alert
from caseload import service as caseload_service
from core import bus
from core.config import get_settings
from core.db import session_scope
from core.errors import NotFound
from core.logs import configure
from officer_portal.schemas import AlertNotice

log = configure("ewall.portal.live")

QUEUE_SIZE = 256  # notices a client may fall behind by before it is dropped
RETRY_MS = 3000  # how soon a browser reconnects after losing the stream
# A resuming client is re-sent the alerts changed since a little before the last event it saw: an
# alert's updated_at is its transaction's start, and notices from different partitions interleave.
RESUME_OVERLAP = timedelta(minutes=1)
CATCH_UP_LIMIT = 200
RECONNECT_S = 2.0  # between attempts to reach the broker
SYNC = "sync"


def _notice(alert: Alert, kind: str, names: dict[int, tuple[str, str]]) -> AlertNotice:
    code, name = (
        names.get(alert.supervisee_id, ("?", "?")) if alert.supervisee_id is not None else platform_label(alert)
    )
    return AlertNotice(
        alert_id=alert.id,
        supervisee_id=alert.supervisee_id,
        kind=kind,
        level=alert.level,
        status=alert.status,
        rule=alert.rule,
        started_at=alert.started_at,
        ended_at=alert.ended_at,
        updated_at=alert.updated_at,
        supervisee_code=code,
        supervisee_name=name,
    )


def platform_label(alert: Alert) -> tuple[str, str]:
    """(code, name) shown for a platform alert, which is about a district's people, not one person."""
    return f"district {alert.district_id}", "整片失联 whole gateway/district silent"


def notices_for(
    *, session: Session, changes: Iterable[tuple[int, str]], viewer_ids: Iterable[int]
) -> list[tuple[AlertNotice, frozenset[int]]]:
    """Each (alert id, kind) change as a notice, with the officers among ``viewer_ids`` allowed to
    see that alert; changes none of them may see are left out."""
    viewers = [o for i in viewer_ids if (o := caseload_service.get_active_officer(session=session, officer_id=i))]
    found = []
    for alert_id, kind in changes:
        alert, audience = None, set()
        for viewer in viewers:
            with contextlib.suppress(NotFound):
                alert = alerts_service.get(session=session, viewer=viewer, alert_id=alert_id)
                audience.add(viewer.id)
        if audience:
            found.append((alert, kind, frozenset(audience)))
    names = caseload_service.supervisee_names(
        session=session, supervisee_ids=list({a.supervisee_id for a, *_ in found})
    )
    return [(_notice(alert, kind, names), audience) for alert, kind, audience in found]


def catch_up(*, session: Session, officer_id: int, since: datetime) -> list[AlertNotice]:
    """The current state of the alerts the officer may see that changed since then, oldest change
    first (so the last event id a client keeps is the latest)."""
    viewer = caseload_service.get_active_officer(session=session, officer_id=officer_id)
    if viewer is None:
        return []
    alerts = alerts_service.list_alerts(session=session, viewer=viewer, since=since, limit=CATCH_UP_LIMIT)
    names = caseload_service.supervisee_names(session=session, supervisee_ids=list({a.supervisee_id for a in alerts}))
    return [_notice(a, SYNC, names) for a in sorted(alerts, key=lambda a: a.updated_at)]


def resume_point(last_event_id: str | None, since: datetime | None) -> datetime | None:
    """Where a client's stream starts: after the last event it saw (EventSource sends its id when it
    reconnects), else at ``since``, else now."""
    if last_event_id:
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(last_event_id)
    return since


def _event(notice: AlertNotice) -> ServerSentEvent:
    return ServerSentEvent(event="alert", data=notice, id=notice.updated_at.isoformat())


def _changes(records: list[ConsumerRecord]) -> list[tuple[int, str]]:
    changes = []
    for record in records:
        try:
            value = bus.decode(record.value)
            changes.append((int(value["alert_id"]), str(value["kind"])))
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("skipping unreadable alerts.v1 record at offset %d: %r", record.offset, exc)
    return changes


@dataclass(eq=False)
class _Client:
    officer_id: int
    # None in the queue ends the stream: the browser reconnects and catches up.
    queue: asyncio.Queue[AlertNotice | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))


class TopicFanOut:
    """What the portal's live feeds share: a thread tailing one topic from its end (no consumer group,
    so the workers' groups and offsets are untouched) that hands its results to the event loop, and
    the connected clients, each with a bounded queue in which None ends the stream. Subclasses pump
    the consumer (``_pump``, on the thread) and may follow who is connected (``_clients_changed``)."""

    topic = ""
    what = ""  # for the log

    def __init__(self) -> None:
        self._clients: set = set()  # touched only on the event loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._tailing = threading.Event()

    async def start(self) -> None:
        """Start tailing and wait, a few seconds at most, until the consumer is in place, so that a
        client connecting after start-up misses nothing. Without a broker the portal still starts;
        the feed joins when the broker answers."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=f"live-{self.topic}", daemon=True)
        self._thread.start()
        if not await run_in_threadpool(self._tailing.wait, get_settings().broker_timeout_s):
            log.warning("broker not reachable yet; live %s start when it is", self.what)

    async def stop(self) -> None:
        """End every stream and the consumer thread."""
        self._stop.set()
        self._drop_all()
        if self._thread is not None:
            await run_in_threadpool(self._thread.join, get_settings().broker_timeout_s)

    @contextlib.contextmanager
    def _subscription(self, client) -> Iterator[asyncio.Queue]:
        self._clients.add(client)
        self._clients_changed()
        if self._stop.is_set():
            client.queue.put_nowait(None)
        try:
            yield client.queue
        finally:
            self._clients.discard(client)
            self._clients_changed()

    def _clients_changed(self) -> None:
        """Called on the event loop whenever a client comes or goes."""

    # On the event loop ----------------------------------------------------------------------------

    def _offer(self, client, item) -> None:
        """Queue an item for a client; one too far behind is dropped rather than allowed to hold the
        others back (its browser reconnects and catches up)."""
        try:
            client.queue.put_nowait(item)
        except asyncio.QueueFull:
            log.warning(
                "officer %d's %s stream fell %d behind; dropped", client.officer_id, self.what, client.queue.maxsize
            )
            self._drop(client)

    def _drop(self, client) -> None:
        self._clients.discard(client)
        self._clients_changed()
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(None)

    def _drop_all(self) -> None:
        for client in list(self._clients):
            self._drop(client)

    # On the consumer thread -----------------------------------------------------------------------

    def _on_loop(self, callback, *args) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the process is on its way out
            self._loop.call_soon_threadsafe(callback, *args)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                consumer = bus.tail_consumer([self.topic])
            except Exception as exc:
                log.warning("cannot tail %s (%r); retrying in %.0f s", self.topic, exc, RECONNECT_S)
                self._stop.wait(RECONNECT_S)
                continue
            # What was published while no consumer was in place never reaches the live feed: the
            # clients connected meanwhile reconnect and catch up from the database.
            self._on_loop(self._drop_all)
            self._tailing.set()
            try:
                self._pump(consumer)
            except Exception:
                log.exception("live %s feed failed; reconnecting to the broker", self.what)
            finally:
                consumer.close(autocommit=False)

    def _pump(self, consumer) -> None:
        raise NotImplementedError


class LiveHub(TopicFanOut):
    """One per portal process: the consumer thread tailing alerts.v1, and the connected clients."""

    topic = bus.ALERTS
    what = "alerts"

    def __init__(self) -> None:
        super().__init__()
        # What the consumer thread reads of the clients: replaced whole, never changed in place.
        self._viewer_ids: frozenset[int] = frozenset()

    async def events(self, *, officer_id: int, resume_from: datetime | None) -> AsyncIterator[ServerSentEvent]:
        """One client's stream: ``ready`` with reconnection advice, the changes it missed when
        resuming, then live notices until the hub drops it."""
        with self._subscription(_Client(officer_id)) as queue:
            # An event, not a comment, so that a page can tell it is subscribed.
            yield ServerSentEvent(event="ready", data={}, retry=RETRY_MS)
            if resume_from is not None:
                # Subscribed first, so nothing falls between the catch-up and the live notices.
                for notice in await run_in_threadpool(self._catch_up, officer_id, resume_from - RESUME_OVERLAP):
                    yield _event(notice)
            while (notice := await queue.get()) is not None:
                yield _event(notice)

    @staticmethod
    def _catch_up(officer_id: int, since: datetime) -> list[AlertNotice]:
        with session_scope() as session:
            return catch_up(session=session, officer_id=officer_id, since=since)

    def _clients_changed(self) -> None:
        self._viewer_ids = frozenset(c.officer_id for c in self._clients)

    def deliver(self, notices: list[tuple[AlertNotice, frozenset[int]]]) -> None:
        """Put each notice on its audience's queues (on the event loop; the consumer thread hands
        them over)."""
        for notice, audience in notices:
            for client in [c for c in self._clients if c.officer_id in audience]:
                self._offer(client, notice)

    def _pump(self, consumer) -> None:
        while not self._stop.is_set():
            records = [r for batch in consumer.poll(timeout_ms=500).values() for r in batch]
            viewer_ids = self._viewer_ids
            if not records or not viewer_ids:
                continue
            changes = _changes(records)
            try:
                with session_scope() as session:
                    notices = notices_for(session=session, changes=changes, viewer_ids=viewer_ids)
            except Exception:
                log.exception("could not look up %d alert changes; clients will catch up", len(changes))
                self._on_loop(self._drop_all)
                continue
            if notices:
                self._on_loop(self.deliver, notices)
