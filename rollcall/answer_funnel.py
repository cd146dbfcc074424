"""The phone answers' writer: concurrent answers are gathered for a few milliseconds and recorded in one
transaction on a thread, then each request gets its own result. One batch is written at a time; while
it is, the next one gathers, so batches grow with the load instead of transactions queueing up.
rollcall.v1 events go out after the commit, in the background: the phone's answer does not wait for
the broker (the answer is already kept), and a failed publish is retried."""

import asyncio
import logging
from collections.abc import Sequence

from core import bus
from core.db import session_scope
from rollcall import deadlines
from rollcall.answers import AnswerResult, PhoneAnswer, Recorded, record_phone_answers

log = logging.getLogger("ewall.rollcall.answers")
PUBLISH_ATTEMPTS = 5


def write_batch(answers: Sequence[PhoneAnswer]) -> Recorded:
    """One transaction for a batch of answers (blocking; committed when it returns)."""
    with session_scope() as session:
        return record_phone_answers(session, answers)


class AnswerFunnel:
    def __init__(self, publisher: bus.Publisher, *, linger_s: float, max_batch: int = 2000):
        self._publisher = publisher
        self._linger_s = linger_s
        self._max_batch = max_batch
        self._queue: list[tuple[PhoneAnswer, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()

    async def submit(self, answer: PhoneAnswer) -> AnswerResult:
        """Record one answer with whatever else arrives meanwhile; returns after the commit."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((answer, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain())
        return await asyncio.shield(future)  # a caller who goes away leaves the batch intact

    async def _drain(self) -> None:
        while self._queue:
            if len(self._queue) < self._max_batch:
                await asyncio.sleep(self._linger_s)
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                recorded = await asyncio.to_thread(write_batch, [answer for answer, _ in batch])
            except Exception as exc:  # the database is away: every answer of the batch gets the error
                for _, future in batch:
                    future.set_exception(exc)
                continue
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
