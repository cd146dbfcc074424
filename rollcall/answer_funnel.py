"""The phone answers' writer: concurrent answers are gathered for a few milliseconds and recorded in one
transaction on a thread, then each request gets its own result. At most WRITERS batches are written at
a time; while they are, the next one gathers, so batches grow with the load instead of transactions
queueing up.
A batch's outcome events (late, 人机分离) go to rollcall.v1 before its commit, as the deadline timer's
do: a crash between the two then republishes (the alerts side is idempotent) instead of losing an
alert, and with the broker away the answers are refused (503, the phone retries) rather than kept
without their alerts. The ``answered`` events only feed live views: they follow in the background."""

import asyncio
import logging
import time
from collections.abc import Sequence

from core import bus
from core.db import session_scope
from rollcall import deadlines
from rollcall.answers import AnswerResult, PhoneAnswer, Recorded, record_phone_answers

log = logging.getLogger("ewall.rollcall.answers")
PUBLISH_ATTEMPTS = 5
# Batches in flight at once: while one waits for the database (the GIL released), the next is prepared
# and sent. Each locks its targets in id order, so two never deadlock; a duplicate waits, then gets 409.
WRITERS = 2


def write_batch(publisher: bus.Publisher, answers: Sequence[PhoneAnswer]) -> Recorded:
    """One transaction for a batch of answers (blocking; committed when it returns), its outcomes
    published before the commit."""
    with session_scope() as session:
        recorded = record_phone_answers(session, answers)
        outcomes = [event for event in recorded.events if event["kind"] == "outcome"]
        if outcomes:
            publisher.publish(bus.ROLLCALL, deadlines.outcome_records(outcomes))
        return Recorded(recorded.results, [event for event in recorded.events if event["kind"] != "outcome"])


class AnswerFunnel:
    def __init__(self, publisher: bus.Publisher, *, linger_s: float, max_batch: int = 2000):
        self._publisher = publisher
        self._linger_s = linger_s
        self._max_batch = max_batch
        self._queue: list[tuple[PhoneAnswer, asyncio.Future]] = []
        self._writers: set[asyncio.Task] = set()
        self._background: set[asyncio.Task] = set()

    async def submit(self, answer: PhoneAnswer) -> AnswerResult:
        """Record one answer with whatever else arrives meanwhile; returns after the commit."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((answer, future))
        if len(self._writers) < WRITERS:
            writer = loop.create_task(self._drain())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        return await asyncio.shield(future)  # a caller who goes away leaves the batch intact

    async def _drain(self) -> None:
        while self._queue:
            if len(self._queue) < self._max_batch:
                await asyncio.sleep(self._linger_s)
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            if not batch:
                return  # the other writer took them
            began = time.perf_counter()
            try:
                recorded = await asyncio.to_thread(write_batch, self._publisher, [answer for answer, _ in batch])
            except Exception as exc:  # the database is away: every answer of the batch gets the error
                for _, future in batch:
                    future.set_exception(exc)
                continue
            log.debug("%d answers written in %.0f ms", len(batch), (time.perf_counter() - began) * 1000)
            for (_, future), result in zip(batch, recorded.results, strict=True):
                future.set_result(result)
            if recorded.events:
                self._spawn(self._publish(recorded.events))

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _publish(self, events: list[dict]) -> None:
        for attempt in range(PUBLISH_ATTEMPTS):
            try:
                await self._publisher.publish_async(bus.ROLLCALL, deadlines.outcome_records(events))
                return
            except bus.BrokerUnavailable as exc:
                log.warning("rollcall.v1: %d answer events not published yet (%s); retrying", len(events), exc)
                await asyncio.sleep(2**attempt)
        log.error("rollcall.v1: gave up publishing %d answer events: %s", len(events), events)
