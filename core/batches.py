"""How a consumer gets a batch through its handler when things go wrong.

Two kinds of failure are told apart, because they need opposite answers:

- an *outage* (the database or the broker cannot be reached): nothing is wrong with the records, so the
  batch is retried, with back-off (1 s doubling to 30 s), for as long as it takes, and never
  dead-lettered. The log gets one line when the outage starts and one when it ends.
- anything else: after a few quick tries the batch is split in halves, recursively, until the records
  that fail on their own are found; those are handed back to be dead-lettered with their error and the
  rest of the batch is processed. Handlers are idempotent, so records of a half that succeeded before
  its sibling failed are simply not repeated.

Kept apart from the Kafka loop (``core.bus.run_consumer``) so the policy reads in one place."""

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from kafka.errors import KafkaError

from core.db import is_unreachable
from core.errors import first_line

# A record fails this many times in a row, a short pause between tries, before it counts as poison.
POISON_TRIES = 3
RETRY_PAUSE_S = (0.2, 0.5)
OUTAGE_FIRST_S = 1.0
OUTAGE_MAX_S = 30.0

Failure = tuple[Any, str]  # (record, why it was dead-lettered)
Handler = Callable[[list], Sequence[Failure] | None]


class BrokerDown(RuntimeError):
    """The broker cannot be reached (``core.bus.BrokerUnavailable`` is one)."""


class Stopped(Exception):
    """The process was asked to stop while a batch waited; its offsets stay uncommitted."""


def outage_of(exc: BaseException) -> str | None:
    """``"database"`` or ``"broker"`` when ``exc`` means that service is unreachable, else None."""
    if is_unreachable(exc):
        return "database"
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, BrokerDown | KafkaError):
            return "broker"
        exc = exc.__cause__ or exc.__context__
    return None


class Outage:
    """Back-off while a service is unreachable, logged once when it goes and once when it is back."""

    def __init__(self, log: logging.Logger, wait: Callable[[float], None], stopped: Callable[[], bool]):
        self._log = log
        self._wait = wait
        self._stopped = stopped
        self._kind: str | None = None
        self._since = 0.0
        self._delay_s = OUTAGE_FIRST_S

    @property
    def ongoing(self) -> bool:
        return self._kind is not None

    def failed(self, kind: str, exc: BaseException) -> None:
        """Log the start of an outage (or a change of what is down), then wait the next back-off step."""
        if kind != self._kind:
            if self._kind is None:
                self._since = time.monotonic()
            self._log.warning("%s unreachable: %s; retrying with back-off", kind, first_line(exc))
            self._kind = kind
        self._wait(self._delay_s)
        self._delay_s = min(self._delay_s * 2, OUTAGE_MAX_S)
        if self._stopped():
            raise Stopped

    def recovered(self) -> None:
        if self._kind is not None:
            self._log.info("%s back after %.0f s", self._kind, time.monotonic() - self._since)
        self._kind, self._delay_s = None, OUTAGE_FIRST_S

    def call(self, action: Callable[[], Any]) -> Any:
        """``action()``, retried through outages; any other error is raised."""
        while True:
            try:
                result = action()
            except Exception as exc:
                kind = outage_of(exc)
                if kind is None:
                    raise
                self.failed(kind, exc)
                continue
            self.recovered()
            return result


class BatchRunner:
    """Runs batches through a handler: outages are waited out, poison records are isolated."""

    def __init__(self, handle: Handler, *, log: logging.Logger, outage: Outage, wait: Callable[[float], None]):
        self._handle = handle
        self._log = log
        self._outage = outage
        self._wait = wait

    def run(self, records: list) -> list[Failure]:
        """Process ``records``; returns those to dead-letter (undecodable, or failing on their own).
        Raises Stopped if the process is stopping before the batch is done."""
        for attempt in range(1, POISON_TRIES + 1):
            try:
                return self._attempt(records)
            except Stopped:
                raise
            except Exception as exc:
                if attempt == POISON_TRIES:
                    if len(records) == 1:
                        return [(records[0], _reason(exc))]
                    self._log.warning(
                        "batch of %d records failed %d times (%s); isolating the failing records",
                        len(records),
                        attempt,
                        first_line(exc),
                    )
                    return self._isolate(records)
                self._log.warning("batch of %d record(s) failed (%s); try %d", len(records), first_line(exc), attempt)
                self._wait(RETRY_PAUSE_S[min(attempt - 1, len(RETRY_PAUSE_S) - 1)])
        raise AssertionError("unreachable")

    def _attempt(self, records: list) -> list[Failure]:
        return list(self._outage.call(lambda: self._handle(records)) or [])

    def _isolate(self, records: list) -> list[Failure]:
        # Halves in order, so each partition's records are still handled in their order.
        middle = len(records) // 2
        failures: list[Failure] = []
        for half in (records[:middle], records[middle:]):
            try:
                failures += self._attempt(half)
            except Stopped:
                raise
            except Exception:
                failures += self.run(half) if len(half) == 1 else self._isolate(half)
        return failures


def _reason(exc: BaseException) -> str:
    # The driver's error names the problem (UniqueViolation, CheckViolation); SQLAlchemy's wrapper does not.
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {first_line(exc)}"
