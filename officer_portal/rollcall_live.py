"""Live answers for the roll-call console: rollcall.v1 tailed by each portal process (no consumer
group, like the other live feeds) and fanned out to the consoles watching a roll call over server-sent
events.

A console subscribes to one roll call. Each ``answered`` and ``outcome`` event of that roll call about
a person in the watcher's caseload (read when it subscribes, like the live map's) is passed on as it
came; ``closed`` and ``cancelled`` go to everyone watching that roll call. Nothing is replayed: after every ``ready``
the page re-reads the targets from the REST API, so what was published while it was not connected is
read from the database instead. A client too slow to keep up is dropped and reconnects."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import ServerSentEvent

from core import bus
from core.logs import configure
from officer_portal import live
from officer_portal.live_positions import caseload_ids

log = configure("ewall.portal.rollcall")

QUEUE_SIZE = 1024  # events a console may fall behind by (a burst of answers) before it is dropped
RETRY_MS = 3000
PER_PERSON = ("answered", "outcome")  # the kinds about one person, shown only to those who may see them
WHOLE_CALL = ("closed", "cancelled")  # the kinds about the whole roll call, shown to everyone watching it


@dataclass(eq=False)
class _Console:
    officer_id: int
    roll_call_id: int
    caseload: np.ndarray  # sorted ids of the people the officer may see
    queue: asyncio.Queue[tuple[str, dict] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def may_see(self, supervisee_id: int) -> bool:
        at = int(np.searchsorted(self.caseload, supervisee_id))
        return at < len(self.caseload) and int(self.caseload[at]) == supervisee_id


def decode_events(values: list[bytes]) -> list[dict]:
    """The rollcall.v1 events a console shows, by roll call; unreadable or other kinds are skipped."""
    events = []
    for value in values:
        try:
            event = bus.decode(value)
            if event.get("kind") in (*PER_PERSON, *WHOLE_CALL):
                event["roll_call_id"] = int(event["roll_call_id"])
                if event["kind"] in PER_PERSON:
                    event["supervisee_id"] = int(event["supervisee_id"])
                event.pop("supervisee_ids", None)  # a cancellation's people: the page re-reads its own
                events.append(event)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("skipping an unreadable rollcall.v1 record: %r", exc)
    return events


def audience(event: dict, consoles: tuple[_Console, ...]) -> list[_Console]:
    """The consoles an event goes to: those watching its roll call that may see its person."""
    watching = [c for c in consoles if c.roll_call_id == event["roll_call_id"]]
    if event["kind"] not in PER_PERSON:
        return watching
    return [c for c in watching if c.may_see(event["supervisee_id"])]


class RollCallHub(live.TopicFanOut):
    """One per portal process: the thread tailing rollcall.v1, and the consoles watching roll calls."""

    topic = bus.ROLLCALL
    what = "roll-call answers"

    def __init__(self) -> None:
        super().__init__()
        self._snapshot: tuple[_Console, ...] = ()  # what the thread reads of the consoles: replaced whole

    async def events(self, *, officer_id: int, roll_call_id: int) -> AsyncIterator[ServerSentEvent]:
        """One console's stream: ``ready`` (the page then re-reads the targets), then each answer,
        outcome, closing and cancellation of the roll call as it is published."""
        caseload = await run_in_threadpool(caseload_ids, officer_id)
        with self._subscription(_Console(officer_id, roll_call_id, caseload)) as queue:
            yield ServerSentEvent(event="ready", data={"roll_call_id": roll_call_id}, retry=RETRY_MS)
            while (item := await queue.get()) is not None:
                kind, data = item
                yield ServerSentEvent(event=kind, data=data)

    def _clients_changed(self) -> None:
        self._snapshot = tuple(self._clients)

    def _deliver(self, items: list[tuple[_Console, tuple[str, dict]]]) -> None:
        for console, item in items:
            if console in self._clients:
                self._offer(console, item)

    def _pump(self, consumer) -> None:
        while not self._stop.is_set():
            polled = consumer.poll(timeout_ms=500)
            consoles = self._snapshot
            if not consoles:
                continue
            values = [r.value for batch in polled.values() for r in batch if r.value]
            items = [(c, (e["kind"], e)) for e in decode_events(values) for c in audience(e, consoles)]
            if items:
                self._on_loop(self._deliver, items)
