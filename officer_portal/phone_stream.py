"""Roll calls reaching open phone pages (#16): rollcall.v1 tailed by each portal process (no consumer
group, like the live map's feed) and fanned out to the phone pages of the people it names, over
server-sent events.

An event only tells the page to re-read its home (``GET /api/v1/phone/home``), which holds the truth,
so a page's queue coalesces: while one refetch is waiting, more add nothing, and a page never falls
behind. A page that was closed or lost its connection re-reads its home when it reconnects, so
nothing published meanwhile is missed."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi.sse import ServerSentEvent

from core import bus
from core.logs import configure
from officer_portal import live

log = configure("ewall.portal.phone")

RETRY_MS = 5000
QUEUE_SIZE = 1  # one pending refetch says all there is to say
KINDS = frozenset({"issued", "answered"})


def people_named(event: dict) -> list[int]:
    """Whose phone pages a rollcall.v1 event concerns (none for kinds the pages do not show)."""
    if event.get("kind") == "issued":
        return event.get("supervisee_ids") or []
    if event.get("kind") == "answered" and event.get("supervisee_id") is not None:
        return [event["supervisee_id"]]
    return []


@dataclass(eq=False)
class _Phone:
    supervisee_id: int
    queue: asyncio.Queue[dict | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))


class PhoneHub(live.TopicFanOut):
    """One per portal process: the thread tailing rollcall.v1, and the open phone pages."""

    topic = bus.ROLLCALL
    what = "phone roll calls"

    def __init__(self) -> None:
        super().__init__()
        self._connected: frozenset[int] = frozenset()  # what the thread reads: replaced whole

    async def events(self, *, supervisee_id: int) -> AsyncIterator[ServerSentEvent]:
        """One page's stream: ``ready`` (the page then re-reads its home), then a ``rollcall`` event
        whenever a roll call for this person is issued or answered."""
        with self._subscription(_Phone(supervisee_id)) as queue:
            yield ServerSentEvent(event="ready", data={}, retry=RETRY_MS)
            while (event := await queue.get()) is not None:
                yield ServerSentEvent(event="rollcall", data=event)

    def _clients_changed(self) -> None:
        self._connected = frozenset(c.supervisee_id for c in self._clients)

    def _deliver(self, notices: dict[int, dict]) -> None:
        for client in list(self._clients):
            notice = notices.get(client.supervisee_id)
            if notice is not None and not client.queue.full():
                client.queue.put_nowait(notice)

    def _pump(self, consumer) -> None:
        while not self._stop.is_set():
            records = [r for batch in consumer.poll(timeout_ms=500).values() for r in batch]
            connected = self._connected
            if not records or not connected:
                continue
            notices: dict[int, dict] = {}
            for record in records:
                try:
                    event = bus.decode(record.value)
                except Exception as exc:
                    log.warning("skipping unreadable rollcall.v1 record at offset %d: %r", record.offset, exc)
                    continue
                if not isinstance(event, dict) or event.get("kind") not in KINDS:
                    continue
                notice = {"kind": event["kind"], "roll_call_id": event.get("roll_call_id")}
                for supervisee_id in connected.intersection(people_named(event)):
                    notices[supervisee_id] = notice
            if notices:
                self._on_loop(self._deliver, notices)
