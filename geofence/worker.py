"""Geofence worker: fixes.v1 → zone tests → zone-events.v1 (keyed by supervisee)."""

import time

from kafka.consumer.fetcher import ConsumerRecord

from core import bus
from core.db import session_scope
from core.logs import configure
from geofence import engine, service
from geofence.config import get_geofence_settings
from tracker_ingest.schemas import UndecodableRecord, decode_fix_record, fix_arrays

log = configure("ewall.geofence")


class GeofenceHandler:
    def __init__(self, publisher: bus.Publisher):
        self._publisher = publisher
        self._settings = get_geofence_settings()
        self._states = engine.ZoneStates()
        self._index = engine.ZoneIndex(())
        self._version: tuple | None = None
        self._checked_at = 0.0

    def _refresh_zones(self) -> None:
        # Zone edits take effect within the reload interval, without a restart.
        if time.monotonic() - self._checked_at < self._settings.zone_reload_s:
            return
        with session_scope() as session:
            version = service.zones_version(session=session)
            if version != self._version:
                self._index = engine.ZoneIndex(service.load_rule_zones(session=session))
                self._version = version
                log.info("zone index rebuilt: %d supervisees with zones", len(self._index.by_supervisee))
        self._checked_at = time.monotonic()

    def __call__(self, records: list[ConsumerRecord]) -> None:
        decoded = []
        for record in records:
            try:
                decoded.append(decode_fix_record(record.value))
            except UndecodableRecord:
                continue  # the persist worker dead-letters it
        if not decoded:
            return
        self._refresh_zones()
        events = engine.evaluate(self._index, self._states, fix_arrays(decoded), self._settings.default_accuracy_m)
        if events:
            self._publisher.publish(bus.ZONE_EVENTS, [(str(e.supervisee_id), bus.encode(e.as_dict())) for e in events])


def main() -> None:
    bus.serve(group="geofence", topics=[bus.FIXES], make_handler=GeofenceHandler, gather_bytes=bus.FIX_BATCH_BYTES)


if __name__ == "__main__":
    main()
