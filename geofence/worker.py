"""Geofence worker: fixes.v1 → zone tests → per-person state machines → zone-events.v1 (keyed by
supervisee). The state machines are snapshotted after every batch that changed one, before the
offsets are committed, so a restarted worker continues where it was."""

import time

from kafka.consumer.fetcher import ConsumerRecord

from core import bus
from core.config import get_settings
from core.db import session_scope
from core.logs import configure
from geofence import engine, service
from geofence.config import GeofenceSettings, get_geofence_settings
from geofence.tracks import Thresholds, Track, Tracks, ZoneEvent
from tracker_ingest.schemas import UndecodableRecord, decode_fix_record, fix_arrays

log = configure("ewall.geofence")


def thresholds(settings: GeofenceSettings) -> Thresholds:
    return Thresholds(
        confirm_fixes=settings.exit_confirm_fixes,
        confirm_s=settings.exit_confirm_s,
        return_fixes=settings.return_confirm_fixes,
        return_s=settings.return_confirm_s,
        evidence_interval_s=settings.evidence_interval_s,
        far_fixes=settings.exit_confirm_far_fixes,
        far_m=settings.exit_confirm_far_m,
    )


class GeofenceHandler:
    def __init__(self, publisher: bus.Publisher):
        self._publisher = publisher
        self._settings = get_geofence_settings()
        self._tz = get_settings().display_tz
        self._index = engine.ZoneIndex((), self._tz)
        self._version: tuple | None = None
        self._checked_at = 0.0
        self._tracks = self._restore()

    def _restore(self) -> Tracks:
        with session_scope() as session:
            saved = service.load_states(session=session)
        log.info("geofence state restored: %d tracks", len(saved))
        return Tracks(thresholds(self._settings), {key: Track(**state) for key, state in saved.items()})

    def _refresh_zones(self) -> list[ZoneEvent]:
        # Zone edits take effect within the reload interval, without a restart.
        if time.monotonic() - self._checked_at < self._settings.zone_reload_s:
            return []
        events = []
        with session_scope() as session:
            version = service.zones_version(session=session)
            if version != self._version:
                self._index = engine.ZoneIndex(service.load_rule_zones(session=session), self._tz, self._index)
                self._version = version
                events = self._tracks.forget_zones(self._index, int(time.time() * 1e6))
                log.info("zone index rebuilt: %d zones for %d people", len(self._index), len(self._index.people))
        self._checked_at = time.monotonic()
        return events

    def __call__(self, records: list[ConsumerRecord]) -> None:
        try:
            self._handle(records)
        except Exception:
            # The batch will be replayed from the last commit: so must the state machines be.
            self._tracks = self._restore()
            raise

    def _handle(self, records: list[ConsumerRecord]) -> None:
        decoded = []
        for record in records:
            try:
                decoded.append(decode_fix_record(record.value))
            except UndecodableRecord:
                continue  # the persist worker dead-letters it
        events = self._refresh_zones()
        if decoded:
            fixes = fix_arrays(decoded)
            observations = engine.observe(self._index, fixes, self._settings.default_accuracy_m)
            events += self._tracks.advance(self._index, observations, fixes)
        if events:
            self._publisher.publish(bus.ZONE_EVENTS, [(str(e.supervisee_id), bus.encode(e.as_dict())) for e in events])
        changed, dropped = self._tracks.take_changes()
        if changed or dropped:
            # After the events are acknowledged: a crash in between replays the batch, and a replayed
            # event is recognised by the alerts worker; a snapshot ahead of its events would lose them.
            with session_scope() as session:
                service.save_states(
                    session=session, changed={k: t.snapshot() for k, t in changed.items()}, dropped=dropped
                )


def main() -> None:
    bus.serve(
        group="geofence", topics=bus.GROUPS["geofence"], make_handler=GeofenceHandler, gather_bytes=bus.FIX_BATCH_BYTES
    )


if __name__ == "__main__":
    main()
