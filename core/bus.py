"""The Kafka bus: topic names, an acknowledged publisher and a consumer loop that commits
offsets only after the handler's database transaction committed."""

import asyncio
import base64
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from kafka.structs import TopicPartition

from core.batches import BatchRunner, BrokerDown, Failure, Outage, Stopped
from core.config import Settings, get_settings
from core.heartbeat import Heartbeat
from core.logs import configure
from core.timezones import utcnow

FIXES = "fixes.v1"
SIGHTINGS = "sightings.v1"
CHECKINS = "checkins.v1"
ZONE_EVENTS = "zone-events.v1"
ALERTS = "alerts.v1"
RADIO = "radio.v1"  # cell/wifi-only reports, kept for network positioning
# Roll calls (点名): issued (the people called, for their phone pages) and outcomes (late, missed,
# identity check failed) for the alerts worker.
ROLLCALL = "rollcall.v1"
TOPICS = (FIXES, RADIO, SIGHTINGS, CHECKINS, ZONE_EVENTS, ALERTS, ROLLCALL)


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


ALL_TOPICS = TOPICS + tuple(dlq(t) for t in TOPICS)
# Each worker's consumer group and what it reads.
GROUPS = {
    "persist": (FIXES, RADIO, SIGHTINGS),
    "geofence": (FIXES,),
    "alerts": (ZONE_EVENTS, ROLLCALL),
    "rollcall": (SIGHTINGS,),
}

# kafka-python's defaults hang group joins against tansu; these values were measured to work.
# What high-volume consumers (fixes) let the broker gather per fetch.
FIX_BATCH_BYTES = 128 * 1024
GROUP_TIMEOUTS = {"max_poll_interval_ms": 5000, "session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}


# (key, value), or (key, value, partition) to choose the partition instead of hashing the key.
Record = tuple[str, bytes] | tuple[str, bytes, int]


class BrokerUnavailable(BrokerDown):
    """The broker did not acknowledge in time; callers answer 503 and the sender retries."""


def encode(value: Any) -> bytes:
    return orjson.dumps(value)


def decode(raw: bytes) -> Any:
    return orjson.loads(raw)


def ensure_topics(settings: Settings | None = None) -> None:
    """Create every topic the platform uses; existing ones are left as they are."""
    settings = settings or get_settings()
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=10_000)
    try:
        existing = set(admin.list_topics())
        for name in ALL_TOPICS:
            topic = settings.topic(name)
            if topic in existing:
                continue
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was quicker
                admin.create_topics([NewTopic(topic, settings.topic_partitions, 1)])
    finally:
        admin.close()


class Publisher:
    """Sends keyed records and reports success only once the broker acknowledged every one."""

    def __init__(self, settings: Settings | None = None):
        self._settings = settings or get_settings()
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()
        self._send_order: asyncio.Lock | None = None

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                timeout_ms = int(self._settings.broker_timeout_s * 1000)
                try:
                    self._producer = KafkaProducer(
                        bootstrap_servers=self._settings.bootstrap_servers,
                        acks="all",
                        linger_ms=0,  # requests are already coalesced by the callers
                        batch_size=256 * 1024,
                        max_request_size=8 * 1024 * 1024,
                        max_block_ms=timeout_ms,
                        request_timeout_ms=timeout_ms,
                        delivery_timeout_ms=timeout_ms * 2,
                        bootstrap_timeout_ms=timeout_ms,
                    )
                except KafkaError as exc:
                    raise BrokerUnavailable(f"broker unreachable: {exc}") from exc
            return self._producer

    def partition_count(self, topic: str) -> int:
        """How many partitions the topic has (blocks for metadata the first time)."""
        try:
            partitions = self._get_producer().partitions_for(self._settings.topic(topic))
        except KafkaError as exc:
            raise BrokerUnavailable(f"broker did not answer for topic {topic}: {exc}") from exc
        if not partitions:
            raise BrokerUnavailable(f"the broker does not know topic {self._settings.topic(topic)}")
        return len(partitions)

    def _send(self, topic: str, records: Sequence[Record]) -> tuple[KafkaProducer, list]:
        producer = self._get_producer()
        name = self._settings.topic(topic)
        try:
            return producer, [
                producer.send(name, key=key.encode(), value=value, partition=partition[0] if partition else None)
                for key, value, *partition in records
            ]
        except KafkaError as exc:
            self._discard(producer)
            raise BrokerUnavailable(f"broker did not accept the records: {exc}") from exc

    def publish(self, topic: str, records: Sequence[Record]) -> None:
        """Blocking publish, for workers and scripts."""
        producer, futures = self._send(topic, records)
        try:
            producer.flush(timeout=self._settings.broker_timeout_s * 2)
            for future in futures:
                future.get(timeout=self._settings.broker_timeout_s * 2)
        except KafkaError as exc:
            self._discard(producer)
            raise BrokerUnavailable(f"broker did not acknowledge: {exc}") from exc

    async def publish_async(self, topic: str, records: Sequence[Record]) -> None:
        """Publish without blocking the event loop; returns after the broker's acknowledgement."""
        loop = asyncio.get_running_loop()
        if self._send_order is None:
            self._send_order = asyncio.Lock()
        # send() can block while fetching metadata, so it runs off the loop; one call at a time, so
        # records reach each partition in the order they were published.
        async with self._send_order:
            producer, futures = await loop.run_in_executor(None, self._send, topic, records)
        try:
            await asyncio.wait_for(_all_acknowledged(loop, futures), timeout=self._settings.broker_timeout_s * 2)
        except (KafkaError, TimeoutError) as exc:
            self._discard(producer)
            raise BrokerUnavailable(f"broker did not acknowledge: {exc!r}") from exc

    def _discard(self, failed: KafkaProducer) -> None:
        """Forget a producer that failed. After a broker restart its session (producer id, connections)
        is dead for good: the next publish starts a new one instead of failing until the process restarts."""
        with self._lock:
            if self._producer is not failed:
                return
            self._producer = None
        threading.Thread(target=failed.close, kwargs={"timeout": 0}, daemon=True).start()

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self._settings.broker_timeout_s)
                self._producer = None


def _all_acknowledged(loop: asyncio.AbstractEventLoop, futures: list) -> asyncio.Future:
    """One loop wake-up when the last record is acknowledged (or the first fails), not one per record."""
    waiter = loop.create_future()
    remaining = [len(futures)]
    count_lock = threading.Lock()

    def settle(method: str, value: Any) -> None:
        if not waiter.done():
            getattr(waiter, method)(value)

    def acknowledged(_metadata: Any) -> None:
        with count_lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            loop.call_soon_threadsafe(settle, "set_result", None)

    if not futures:
        waiter.set_result(None)
    for future in futures:
        future.add_callback(acknowledged)
        future.add_errback(lambda exc: loop.call_soon_threadsafe(settle, "set_exception", exc))
    return waiter


@dataclass
class StopFlag:
    """Set by SIGTERM/SIGINT so a worker finishes its batch and leaves cleanly."""

    event: threading.Event = field(default_factory=threading.Event)

    def install(self) -> "StopFlag":
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.event.set())
        return self

    @property
    def stopped(self) -> bool:
        return self.event.is_set()


def dead_letter(publisher: Publisher, topic: str, failures: Sequence[Failure], *, group: str | None = None) -> None:
    """Park records that a consumer cannot process in ``<topic>.dlq``, with the reason, instead of
    blocking the stream. Each entry is keyed like the original and says where the record came from,
    which consumer group gave up on it, why and when, and carries the original value (base64, as
    fixes.v1 values are binary) so ``core.dlq`` can replay it after a fix."""
    if not failures:
        return
    failed_at = utcnow().isoformat()
    publisher.publish(
        dlq(topic),
        [
            (
                record.key.decode(errors="replace") if record.key else "",
                encode(
                    {
                        "topic": topic,
                        "partition": record.partition,
                        "offset": record.offset,
                        "key": base64.b64encode(record.key).decode() if record.key is not None else None,
                        "group": group,
                        "error": reason,
                        "failed_at": failed_at,
                        "value": base64.b64encode(record.value or b"").decode(),
                    }
                ),
            )
            for record, reason in failures
        ],
    )


# A handler returns the records it could not decode, with the reason; they are dead-lettered after it
# returned (after its database commit), so a batch that is retried does not dead-letter them again.
BatchHandler = Callable[[list[ConsumerRecord]], Sequence[Failure] | None]


def run_consumer(
    *,
    group: str,
    topics: Sequence[str],
    handle: BatchHandler,
    stop: StopFlag,
    max_records: int = 2000,
    gather_bytes: int = 1,
    settings: Settings | None = None,
    publisher: Publisher | None = None,
    listener: ConsumerRebalanceListener | None = None,
) -> None:
    """Poll batches and hand them to ``handle``; commit offsets only after it returned.

    ``handle`` must commit its own database transaction and be idempotent: after a crash,
    or when a commit fails during a rebalance, the same records arrive again. It returns the
    records it could not decode (or None); they go to their topic's DLQ before the offsets commit.

    While the database or the broker is unreachable the batch is retried with back-off, never
    dead-lettered; a batch that keeps failing otherwise is split to find the records that fail on
    their own, which are dead-lettered with their error (``core.batches``). ``publisher`` sends the
    DLQ entries (one is made, and closed, if not given).

    ``gather_bytes`` > 1 lets the broker gather that much (or 100 ms) per fetch, for high-volume
    topics where every batch costs a database transaction; otherwise a fetch returns as soon as
    anything arrives, and an idle consumer waits 500 ms per poll instead of spinning.

    ``listener`` hears which partitions the group gives this process and takes away. kafka-python
    calls it from inside ``poll`` (and ``close``), never while ``handle`` runs: a batch is finished
    before its partitions are revoked. It runs on the consumer's IO loop, which also beats the
    group's heartbeats, so it must be quick (no database): note what changed and act on it in
    the next ``handle``.
    """
    settings = settings or get_settings()
    log = configure(f"ewall.worker.{group}")
    own_publisher = publisher is None
    publisher = publisher or Publisher(settings)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.topic(group),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_min_bytes=gather_bytes,
        fetch_max_wait_ms=100 if gather_bytes > 1 else 500,
        **GROUP_TIMEOUTS,
    )
    consumer.subscribe(topics=[settings.topic(t) for t in topics], listener=listener)
    log.info("consuming %s as group %s", ", ".join(topics), settings.topic(group))
    heartbeat = Heartbeat(group, settings)
    logical = {settings.topic(t): t for t in topics}

    def wait(seconds: float) -> None:
        _hold(consumer, seconds, stop, heartbeat)

    outage = Outage(log, wait, lambda: stop.stopped)
    runner = BatchRunner(handle, log=log, outage=outage, wait=wait)
    try:
        while not stop.stopped:
            heartbeat.beat()
            polled = consumer.poll(timeout_ms=500, max_records=max_records)
            records = [r for batch in polled.values() for r in batch]
            if not records:
                continue
            try:
                failures = runner.run(records)
                _park(publisher, failures, logical, group, outage, log)
            except Stopped:
                break  # uncommitted: the batch is replayed after the restart
            try:
                consumer.commit()
            except CommitFailedError:
                log.warning("offset commit lost to a rebalance; the batch will be replayed idempotently")
    finally:
        consumer.close(autocommit=False)
        if own_publisher:
            publisher.close()
        log.info("stopped")


def _park(
    publisher: Publisher,
    failures: Sequence[Failure],
    logical: dict[str, str],
    group: str,
    outage: Outage,
    log: Any,
) -> None:
    """Dead-letter each topic's failures, waiting out a broker outage (the handler is not re-run)."""
    by_topic: dict[str, list[Failure]] = {}
    for record, reason in failures:
        log.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
        by_topic.setdefault(logical.get(record.topic, record.topic), []).append((record, reason))
    for topic, failed in by_topic.items():
        outage.call(lambda topic=topic, failed=failed: dead_letter(publisher, topic, failed, group=group))


def _hold(consumer: KafkaConsumer, seconds: float, stop: StopFlag, heartbeat: Heartbeat) -> None:
    """Wait while keeping the group membership: poll with every partition paused (a consumer that
    does not poll within max_poll_interval_ms is thrown out of its group)."""
    deadline = time.monotonic() + seconds
    try:
        while not stop.stopped and (left := deadline - time.monotonic()) > 0:
            heartbeat.beat()
            consumer.pause(*consumer.assignment())
            polled = consumer.poll(timeout_ms=max(1, int(min(left, 0.5) * 1000)))
            for partition, batch in polled.items():
                # Assigned by a rebalance while we waited: fetched again once the wait is over.
                consumer.seek(partition, batch[0].offset)
    finally:
        consumer.resume(*consumer.paused())


def tail_consumer(topics: Sequence[str], settings: Settings | None = None) -> KafkaConsumer:
    """A consumer of every partition of ``topics`` that reads only what is published after it returns.

    For fanning records out to live clients, where each process wants all of them and none from the
    past: it joins no group, so there is no join to hang against tansu and no offset to commit.
    """
    settings = settings or get_settings()
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=500,
    )
    try:
        partitions = []
        for topic in topics:
            name = settings.topic(topic)
            found = consumer.partitions_for_topic(name)
            if not found:
                raise BrokerUnavailable(f"the broker does not know topic {name}")
            partitions += [TopicPartition(name, p) for p in sorted(found)]
        consumer.assign(partitions)
        consumer.seek_to_end()
        # seek_to_end() is lazy; asking the position now fixes the start before returning.
        for partition in partitions:
            if consumer.position(partition, timeout_ms=int(settings.broker_timeout_s * 1000)) is None:
                raise BrokerUnavailable(f"the broker did not say where {partition.topic} ends")
    except BaseException:
        consumer.close(autocommit=False)
        raise
    return consumer


def serve(
    *,
    group: str,
    topics: Sequence[str],
    make_handler: Callable[[Publisher], BatchHandler],
    max_records: int = 2000,
    gather_bytes: int = 1,
) -> None:
    """A worker process's main loop: one publisher for its output, stop on SIGTERM/SIGINT.

    A handler that reads state at start waits for an unreachable database with the same back-off
    as a batch, instead of crashing the process. A handler that is also a ``ConsumerRebalanceListener``
    hears of the group's rebalances (see ``run_consumer``): a worker keeping per-partition state
    loads and drops it with its partitions."""
    publisher = Publisher()
    stop = StopFlag().install()
    log = configure(f"ewall.worker.{group}")
    try:
        outage = Outage(log, lambda s: stop.event.wait(s), lambda: stop.stopped)
        try:
            handler = outage.call(lambda: make_handler(publisher))
        except Stopped:
            return
        run_consumer(
            group=group,
            topics=topics,
            handle=handler,
            stop=stop,
            max_records=max_records,
            gather_bytes=gather_bytes,
            publisher=publisher,
            listener=handler if isinstance(handler, ConsumerRebalanceListener) else None,
        )
    finally:
        publisher.close()
