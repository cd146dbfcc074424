"""The ``rollcall`` process: camera sightings and office check-ins (sightings.v1, consumer group
``rollcall``) answer camera and office roll calls; beside it, timers every few seconds: the deadline
timer (pending past the close → missed), scheduled roll calls that are due, redelivery of roll calls
the broker missed, and the answer photos' retention."""

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from kafka.consumer.fetcher import ConsumerRecord

from core import bus
from core.batches import outage_of
from core.db import session_scope
from core.errors import first_line
from core.logs import configure
from core.timezones import utcnow
from rollcall import deadlines, issue, schedule
from rollcall.answers import record_sightings
from rollcall.config import get_rollcall_settings
from rollcall.photos import purge_expired

log = configure("ewall.rollcall")
RETENTION_EVERY_S = 3600.0


class SightingsHandler:
    """A batch of sightings in one transaction (rollcall.answers); the answers' events are published
    after its commit, before the offsets are."""

    def __init__(self, publisher: bus.Publisher):
        self._publisher = publisher

    def __call__(self, records: list[ConsumerRecord]) -> list[tuple[ConsumerRecord, str]]:
        sightings, failures = [], []
        for record in records:
            try:
                sightings.append(bus.decode(record.value))
            except ValueError as exc:
                failures.append((record, f"not JSON: {exc}"))
        with session_scope() as session:
            events = record_sightings(session, sightings)
        if events:
            self._publisher.publish(bus.ROLLCALL, deadlines.outcome_records(events))
        return failures


def close_overdue(session, publisher: bus.Publisher) -> None:
    missed = deadlines.close_overdue(session=session, publish=lambda records: publisher.publish(bus.ROLLCALL, records))
    if missed:
        log.info("%d roll-call targets missed", missed)


def issue_scheduled(session, publisher: bus.Publisher) -> None:
    for roll_call in schedule.issue_due(session=session, now=utcnow()):
        issue.deliver(session=session, publisher=publisher, roll_call=roll_call)


def redeliver(session, publisher: bus.Publisher) -> None:
    """Roll calls committed while the broker was down (or whose issuer died after the commit)."""
    older_than = utcnow() - timedelta(seconds=get_rollcall_settings().redeliver_after_s)
    for roll_call in issue.undelivered(session=session, older_than=older_than):
        delivered = issue.deliver(session=session, publisher=publisher, roll_call=roll_call)
        log.info("roll call %d: %d targets delivered late", roll_call.id, delivered)


_retention_due = [0.0]


def purge_photos(session, publisher: bus.Publisher) -> None:
    """Hourly: answer photos past their retention go (rollcall.photos)."""
    if time.monotonic() < _retention_due[0]:
        return
    purged = purge_expired(session)
    session.commit()
    _retention_due[0] = time.monotonic() + RETENTION_EVERY_S
    if purged:
        log.info("retention: %s answer photos deleted", purged)


TIMERS: tuple[Callable, ...] = (close_overdue, issue_scheduled, redeliver, purge_photos)


def run_timers(stop: threading.Event) -> None:
    """Each timer every round, in a session of its own: one failing (the database or broker down)
    holds the others back no longer than its round, and the next round retries it."""
    publisher = bus.Publisher()
    interval_s = get_rollcall_settings().worker_interval_s
    log.info("roll-call timers every %.1f s", interval_s)
    try:
        while not stop.wait(interval_s):
            for timer in TIMERS:
                try:
                    with session_scope() as session:
                        timer(session, publisher)
                except Exception as exc:
                    if (down := outage_of(exc)) is None:
                        log.exception("roll-call %s failed; retrying next round", timer.__name__)
                    else:  # one line, not a stack trace every few seconds while it lasts
                        log.warning(
                            "roll-call %s: %s unreachable (%s); retrying", timer.__name__, down, first_line(exc)
                        )
    finally:
        publisher.close()


def main() -> None:
    stop = threading.Event()
    timers = threading.Thread(target=run_timers, args=(stop,), name="rollcall-timers", daemon=True)
    timers.start()
    try:
        bus.serve(group="rollcall", topics=bus.GROUPS["rollcall"], make_handler=SightingsHandler)
    finally:
        stop.set()
        timers.join(timeout=10)


if __name__ == "__main__":
    main()
