"""The Kafka bus: topic names, an acknowledged publisher and a consumer loop that commits
offsets only after the handler's database transaction committed."""

import asyncio
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

from core.config import Settings, get_settings
from core.heartbeat import Heartbeat
from core.logs import configure

FIXES = "fixes.v1"
SIGHTINGS = "sightings.v1"
CHECKINS = "checkins.v1"
ZONE_EVENTS = "zone-events.v1"
ALERTS = "alerts.v1"
RADIO = "radio.v1"  # cell/wifi-only reports, kept for network positioning
TOPICS = (FIXES, RADIO, SIGHTINGS, CHECKINS, ZONE_EVENTS, ALERTS)


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


ALL_TOPICS = TOPICS + tuple(dlq(t) for t in TOPICS)
# Each worker's consumer group and what it reads.
GROUPS = {"persist": (FIXES, RADIO, SIGHTINGS), "geofence": (FIXES,), "alerts": (ZONE_EVENTS,)}

# kafka-python's defaults hang group joins against tansu; these values were measured to work.
# What high-volume consumers (fixes) let the broker gather per fetch.
FIX_BATCH_BYTES = 128 * 1024
GROUP_TIMEOUTS = {"max_poll_interval_ms": 5000, "session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}


# (key, value), or (key, value, partition) to choose the partition instead of hashing the key.
Record = tuple[str, bytes] | tuple[str, bytes, int]


class BrokerUnavailable(RuntimeError):
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

    def _send(self, topic: str, records: Sequence[Record]) -> list:
        producer = self._get_producer()
        name = self._settings.topic(topic)
        try:
            return [
                producer.send(name, key=key.encode(), value=value, partition=partition[0] if partition else None)
                for key, value, *partition in records
            ]
        except KafkaError as exc:
            raise BrokerUnavailable(f"broker did not accept the records: {exc}") from exc

    def publish(self, topic: str, records: Sequence[Record]) -> None:
        """Blocking publish, for workers and scripts."""
        futures = self._send(topic, records)
        self._get_producer().flush(timeout=self._settings.broker_timeout_s * 2)
        for future in futures:
            try:
                future.get(timeout=self._settings.broker_timeout_s * 2)
            except KafkaError as exc:
                raise BrokerUnavailable(f"broker did not acknowledge: {exc}") from exc

    async def publish_async(self, topic: str, records: Sequence[Record]) -> None:
        """Publish without blocking the event loop; returns after the broker's acknowledgement."""
        loop = asyncio.get_running_loop()
        if self._send_order is None:
            self._send_order = asyncio.Lock()
        # send() can block while fetching metadata, so it runs off the loop; one call at a time, so
        # records reach each partition in the order they were published.
        async with self._send_order:
            futures = await loop.run_in_executor(None, self._send, topic, records)
        try:
            await asyncio.wait_for(_all_acknowledged(loop, futures), timeout=self._settings.broker_timeout_s * 2)
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(f"broker did not acknowledge: {exc!r}") from exc

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


def dead_letter(publisher: Publisher, topic: str, failures: Sequence[tuple[ConsumerRecord, str]]) -> None:
    """Park records no consumer can read in ``<topic>.dlq``, with the reason, instead of blocking the stream."""
    if not failures:
        return
    publisher.publish(
        dlq(topic),
        [
            (
                record.key.decode(errors="replace") if record.key else "",
                encode(
                    {
                        "reason": reason,
                        "partition": record.partition,
                        "offset": record.offset,
                        "value": record.value.decode(errors="replace"),
                    }
                ),
            )
            for record, reason in failures
        ],
    )


BatchHandler = Callable[[list[ConsumerRecord]], None]


def run_consumer(
    *,
    group: str,
    topics: Sequence[str],
    handle: BatchHandler,
    stop: StopFlag,
    max_records: int = 2000,
    gather_bytes: int = 1,
    settings: Settings | None = None,
    listener: ConsumerRebalanceListener | None = None,
) -> None:
    """Poll batches and hand them to ``handle``; commit offsets only after it returned.

    ``handle`` must commit its own database transaction and be idempotent: after a crash,
    or when a commit fails during a rebalance, the same records arrive again.

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
    try:
        while not stop.stopped:
            heartbeat.beat()
            polled = consumer.poll(timeout_ms=500, max_records=max_records)
            records = [r for batch in polled.values() for r in batch]
            if not records:
                continue
            try:
                handle(records)
            except Exception:
                log.exception("batch of %d records failed; rewinding to the last commit", len(records))
                _rewind(consumer)
                time.sleep(1.0)
                continue
            try:
                consumer.commit()
            except CommitFailedError:
                log.warning("offset commit lost to a rebalance; the batch will be replayed idempotently")
    finally:
        consumer.close(autocommit=False)
        log.info("stopped")


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


def _rewind(consumer: KafkaConsumer) -> None:
    for tp in consumer.assignment():
        committed = consumer.committed(tp)
        if committed is None:
            consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)


def serve(
    *,
    group: str,
    topics: Sequence[str],
    make_handler: Callable[[Publisher], BatchHandler],
    max_records: int = 2000,
    gather_bytes: int = 1,
) -> None:
    """A worker process's main loop: one publisher for its output, stop on SIGTERM/SIGINT.

    A handler that is also a ``ConsumerRebalanceListener`` hears of the group's rebalances (see
    ``run_consumer``): a worker keeping per-partition state loads and drops it with its partitions."""
    publisher = Publisher()
    try:
        handler = make_handler(publisher)
        run_consumer(
            group=group,
            topics=topics,
            handle=handler,
            stop=StopFlag().install(),
            max_records=max_records,
            gather_bytes=gather_bytes,
            listener=handler if isinstance(handler, ConsumerRebalanceListener) else None,
        )
    finally:
        publisher.close()
