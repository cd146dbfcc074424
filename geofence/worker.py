"""Geofence worker: fixes.v1 → zone tests → per-person state machines → zone-events.v1 (keyed by
supervisee). The state machines are snapshotted after every batch that changed one, before the
offsets are committed, so a restarted worker continues where it was.

Several workers share the partitions of fixes.v1 in one consumer group; a person's fixes all land on
partition ``supervisee_id % partitions``, so each worker keeps the tracks of the people of its own
partitions only. When a rebalance gives it partitions it loads their people's snapshots before it
reads their fixes, and when one is taken away it forgets their people: the new owner goes on from
the snapshot. Snapshots are versioned by fix time (see ``service.save_states``)."""

import time

import numpy as np
from kafka import ConsumerRebalanceListener
from kafka.consumer.fetcher import ConsumerRecord

from core import bus
from core.config import get_settings
from core.db import session_scope
from core.logs import configure
from core.wire import UndecodableRecord, decode_fix_record, fix_arrays
from geofence import engine, service
from geofence.config import get_geofence_settings
from geofence.monitoring import MonitoringWindows
from geofence.tracks import Track, Tracks, ZoneEvent

log = configure("ewall.geofence")


class GeofenceHandler(ConsumerRebalanceListener):
    def __init__(self, publisher: bus.Publisher):
        self._publisher = publisher
        self._settings = get_geofence_settings()
        self._core = get_settings()
        self._tz = self._core.display_tz
        self._topic = self._core.topic(bus.FIXES)
        self._index = engine.ZoneIndex((), self._tz)
        self._monitored = MonitoringWindows({})
        self._version: tuple | None = None
        self._checked_at = 0.0
        self._purged_at = time.monotonic()
        self._tracks = Tracks(self._settings.thresholds())
        # The fixes.v1 partitions this worker owns, those whose people are not loaded yet, and those
        # taken away whose people are not forgotten yet. None until the group assigns some: a
        # handler used without a group owns everyone.
        self._owned: set[int] | None = None
        self._unloaded: set[int] | None = None
        self._revoked: set[int] = set()

    # The group's rebalance listener. kafka-python calls these inside ``poll``, between batches, on
    # its IO loop, which also beats the heartbeats: they only note the change, and the next batch
    # forgets and loads people before anything else.
    def on_partitions_revoked(self, revoked) -> None:
        partitions = {tp.partition for tp in revoked if tp.topic == self._topic}
        if self._owned is None or not partitions:
            return
        self._owned -= partitions
        self._unloaded -= partitions
        self._revoked |= partitions
        log.info("partitions %s revoked; this worker owns %s", sorted(partitions), sorted(self._owned))

    def on_partitions_assigned(self, assigned) -> None:
        partitions = {tp.partition for tp in assigned if tp.topic == self._topic}
        if self._owned is None:  # from owning everyone to owning partitions: start empty
            self._tracks = Tracks(self._settings.thresholds())
            self._owned, self._unloaded = set(), set()
        self._owned |= partitions
        self._unloaded |= partitions
        log.info("partitions %s assigned; this worker owns %s", sorted(partitions), sorted(self._owned))

    def _take_over(self) -> list[ZoneEvent]:
        """Forget the people of the partitions taken away, and load the snapshots of those of the
        partitions given since the last batch, replacing what memory holds of them (another worker
        may have moved them on since). Episodes of zones removed meanwhile end."""
        if not self._revoked and self._unloaded is not None and not self._unloaded:
            return []
        if self._unloaded is None:
            scope = {}
        else:
            count = self._publisher.partition_count(bus.FIXES)
            moved = list(self._revoked | self._unloaded)
            self._tracks.forget_people(lambda people: np.isin(people % count, moved))
            self._tracks.noise.forget(lambda people: np.isin(people % count, moved))
            self._revoked = set()
            scope = {"partitions": self._unloaded, "partition_count": count}
        with session_scope() as session:
            saved = service.load_states(session=session, **scope)
            learned = service.load_noise(session=session, **scope)
        self._tracks.restore({key: Track(**state) for key, state in saved.active.items()}, saved.quiet)
        self._tracks.noise.restore(learned)
        log.info(
            "geofence state restored for partitions %s: %d tracks, %d quiet",
            "all" if self._unloaded is None else sorted(self._unloaded),
            len(saved.active),
            len(saved.quiet),
        )
        self._unloaded = set()
        if self._version is None:  # no zones loaded yet: the first reload forgets them
            return []
        return self._tracks.forget_zones(self._index, int(time.time() * 1e6))

    def _refresh_zones(self) -> list[ZoneEvent]:
        # Zone edits and monitoring periods take effect within the reload interval, without a restart.
        if time.monotonic() - self._checked_at < self._settings.zone_reload_s:
            return []
        events = []
        with session_scope() as session:
            version = service.zones_version(session=session)
            if version != self._version:
                self._index = engine.ZoneIndex(service.load_rule_zones(session=session), self._tz, self._index)
                self._monitored = MonitoringWindows(service.monitoring_windows(session=session))
                self._version = version
                events = self._tracks.forget_zones(self._index, int(time.time() * 1e6))
                log.info("zone index rebuilt: %d zones for %d people", len(self._index), len(self._index.people))
        self._checked_at = time.monotonic()
        return events

    def __call__(self, records: list[ConsumerRecord]) -> None:
        try:
            self._handle(records)
        except Exception:
            # The batch will be replayed from the last commit: so must the state machines be, from
            # the snapshots (loaded before the replay).
            self._tracks = Tracks(self._settings.thresholds())
            self._unloaded = None if self._owned is None else set(self._owned)
            raise

    def _handle(self, records: list[ConsumerRecord]) -> None:
        decoded = []
        for record in records:
            try:
                decoded.append(decode_fix_record(record.value))
            except UndecodableRecord:
                continue  # the persist worker dead-letters it
        events = self._take_over()
        events += self._refresh_zones()
        if decoded:
            fixes = fix_arrays(decoded)
            # Outside an approved monitoring period a fix is not judged (nor learned from).
            judged = self._monitored.covers(fixes["supervisee_id"], fixes["ts_us"])
            if not judged.all():
                fixes = {name: column[judged] for name, column in fixes.items()}
            observations = engine.observe(self._index, fixes, self._settings.default_accuracy_m)
            events += self._tracks.advance(self._index, observations, fixes)
        if events:
            self._publisher.publish(bus.ZONE_EVENTS, [(str(e.supervisee_id), bus.encode(e.as_dict())) for e in events])
        changed, dropped = self._tracks.take_changes()
        learned = self._tracks.noise.state(fixes["supervisee_id"]) if decoded else None
        if changed or dropped or learned is not None:
            # After the events are acknowledged: a crash in between replays the batch, and a replayed
            # event is recognised by the alerts worker; a snapshot ahead of its events would lose them.
            with session_scope() as session:
                refused = service.save_states(
                    session=session, changed={k: t.snapshot() for k, t in changed.items()}, dropped=dropped
                )
                if learned is not None:
                    service.save_noise(session=session, learned=learned)
            if refused:
                log.warning("%d snapshots older than the saved ones not written: another worker moved on", refused)
        self._purge()

    def _purge(self) -> None:
        """Old tombstones, and the snapshots of people past the fix retention."""
        if time.monotonic() - self._purged_at < self._settings.tombstone_keep_s / 4:
            return
        with session_scope() as session:
            purged = service.purge_tombstones(session=session, older_than_s=self._settings.tombstone_keep_s)
            expired = service.purge_expired(
                session=session,
                retention_days=self._core.fix_retention_days,
                batch_rows=self._core.retention_batch_rows,
            )
        self._purged_at = time.monotonic()
        log.info("%d quiet tracks' tombstones purged, %d snapshots past the fix retention", purged, expired)


def main() -> None:
    bus.serve(
        group="geofence", topics=bus.GROUPS["geofence"], make_handler=GeofenceHandler, gather_bytes=bus.FIX_BATCH_BYTES
    )


if __name__ == "__main__":
    main()
