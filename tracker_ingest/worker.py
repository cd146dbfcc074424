"""Persist worker: fixes.v1 → PostGIS `fix` and `last_position`; radio.v1 and sightings.v1 → their
tables; offsets committed after the rows. Also keeps day partitions ahead, drops expired ones and
deletes the other position rows past their retention."""

import time

from kafka.consumer.fetcher import ConsumerRecord

from core import bus
from core.config import get_settings
from core.db import session_scope
from core.logs import configure
from core.wire import FixRecord, UndecodableRecord, decode_fix_record
from tracker_ingest import positions

log = configure("ewall.persist")
RETENTION_EVERY_S = 3600.0


class PersistHandler:
    def __init__(self, publisher: bus.Publisher):
        self._publisher = publisher
        self._settings = get_settings()
        self._partitions = positions.PartitionKeeper(self._settings.fix_partition_days_ahead)
        self._topics = {self._settings.topic(name): name for name in (bus.FIXES, bus.RADIO, bus.SIGHTINGS)}
        self._retention_at = 0.0

    def __call__(self, records: list[ConsumerRecord]) -> list[tuple[ConsumerRecord, str]]:
        """Store the batch in one transaction; returns the undecodable records for the DLQ."""
        fixes: list[FixRecord] = []
        other: dict[str, list[dict]] = {bus.RADIO: [], bus.SIGHTINGS: []}
        failures = []
        for record in records:
            topic = self._topics[record.topic]
            try:
                if topic == bus.FIXES:
                    fixes.append(decode_fix_record(record.value))
                else:
                    other[topic].append(bus.decode(record.value))
            except (UndecodableRecord, ValueError) as exc:
                failures.append((record, f"undecodable: {exc}"))
        with session_scope() as session:
            positions.store(session, fixes, self._partitions)
            positions.store_radio_reports(session, other[bus.RADIO])
            positions.store_sightings(session, other[bus.SIGHTINGS])
        self._apply_retention()
        return failures

    def _apply_retention(self) -> None:
        if time.monotonic() - self._retention_at < RETENTION_EVERY_S:
            return
        with session_scope() as session:
            dropped = positions.drop_expired_partitions(session, retention_days=self._settings.fix_retention_days)
            purged = positions.purge_expired(session, settings=self._settings)
        if dropped:
            log.info(
                "retention: dropped %d day partitions older than %d days", dropped, self._settings.fix_retention_days
            )
        if any(purged.values()):
            log.info("retention: deleted %s", ", ".join(f"{n} {table} rows" for table, n in purged.items() if n))
        self._retention_at = time.monotonic()


def main() -> None:
    bus.serve(
        group="persist",
        topics=bus.GROUPS["persist"],
        make_handler=PersistHandler,
        max_records=500,
        gather_bytes=bus.FIX_BATCH_BYTES,
    )


if __name__ == "__main__":
    main()
