"""Persist worker: fixes.v1 → PostGIS `fix` and `last_position`, offsets committed after the rows."""

from kafka.consumer.fetcher import ConsumerRecord

from core import bus
from core.config import get_settings
from core.db import session_scope
from core.logs import configure
from tracker_ingest import positions
from tracker_ingest.schemas import FixRecord, UndecodableRecord, decode_fix_record

log = configure("ewall.persist")


class PersistHandler:
    def __init__(self, publisher: bus.Publisher, partitions: positions.PartitionKeeper):
        self._publisher = publisher
        self._partitions = partitions

    def __call__(self, records: list[ConsumerRecord]) -> None:
        decoded: list[FixRecord] = []
        failures = []
        for record in records:
            try:
                decoded.append(decode_fix_record(record.value))
            except UndecodableRecord as exc:
                log.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc)
                failures.append((record, str(exc)))
        bus.dead_letter(self._publisher, bus.FIXES, failures)
        with session_scope() as session:
            positions.store(session, decoded, self._partitions)


def main() -> None:
    partitions = positions.PartitionKeeper(get_settings().fix_partition_days_ahead)
    bus.serve(
        group="persist",
        topics=[bus.FIXES],
        make_handler=lambda publisher: PersistHandler(publisher, partitions),
        max_records=500,
    )


if __name__ == "__main__":
    main()
