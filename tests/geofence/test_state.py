"""Snapshots handed between geofence workers: versioned by fix time in the database, so that an
older one never replaces a newer one (nor brings back a track its new owner let go), loaded by
partition; and the tracks in memory forgotten and taken over by person."""

import numpy as np
import pytest

from geofence import service
from geofence.engine import ZoneIndex, observe
from geofence.noise import DeviceNoise
from geofence.tracks import Track, Tracks
from tests.geofence.test_engine import PERSON, THRESHOLDS, fixes, run, zone


@pytest.fixture
def person_and_zone(admin_api):
    person = admin_api.supervisee(admin_api.district()["id"])
    return person["id"], admin_api.home_zone(person["id"])["id"]


def running(last_us: int, run_fixes: int = 1) -> dict:
    return Track(last_us=last_us, run_fixes=run_fixes, run_since_us=last_us).snapshot()


def test_an_older_snapshot_never_overwrites_a_newer_one(db, person_and_zone):
    key = person_and_zone
    assert service.save_states(session=db, changed={key: running(200, run_fixes=2)}, dropped={}) == 0
    # A worker that lost the person finishes a late batch: its state is older, and refused.
    assert service.save_states(session=db, changed={key: running(100)}, dropped={}) == 1
    saved = service.load_states(session=db)
    assert saved.active[key]["last_us"] == 200 and saved.active[key]["run_fixes"] == 2
    # The same version again (a replay) is written; a newer one is.
    assert service.save_states(session=db, changed={key: running(200, run_fixes=2)}, dropped={}) == 0
    assert service.save_states(session=db, changed={key: running(300, run_fixes=3)}, dropped={}) == 0
    assert service.load_states(session=db).active[key]["run_fixes"] == 3


def test_a_quiet_track_leaves_a_tombstone_that_an_older_snapshot_cannot_bring_back(db, person_and_zone):
    key = person_and_zone
    service.save_states(session=db, changed={key: running(100)}, dropped={})
    assert service.save_states(session=db, changed={}, dropped={key: 300}) == 0
    assert service.save_states(session=db, changed={key: running(200)}, dropped={}) == 1
    saved = service.load_states(session=db)
    assert key not in saved.active and saved.quiet[key] == 300
    # Nor does an older tombstone end a newer live track.
    service.save_states(session=db, changed={key: running(400)}, dropped={})
    assert service.save_states(session=db, changed={}, dropped={key: 350}) == 1
    assert service.load_states(session=db).active[key]["last_us"] == 400


def test_tombstones_are_purged_only_when_old(db, person_and_zone):
    key = person_and_zone
    service.save_states(session=db, changed={}, dropped={key: 300})
    assert service.purge_tombstones(session=db, older_than_s=3600) == 0
    # now() is the transaction's start, so a row written in it is 0 s old, not less.
    assert service.purge_tombstones(session=db, older_than_s=-1) >= 1
    assert key not in service.load_states(session=db).quiet


def test_states_load_by_partition(db, admin_api):
    district = admin_api.district()["id"]
    keys = []
    for _ in range(2):
        person = admin_api.supervisee(district)["id"]
        keys.append((person, admin_api.home_zone(person)["id"]))
    service.save_states(session=db, changed={k: running(100) for k in keys}, dropped={})
    count = 1000  # enough partitions that the two people land on different ones
    for person, zone_id in keys:
        saved = service.load_states(session=db, partitions={person % count}, partition_count=count)
        assert (person, zone_id) in saved.active
        assert set(saved.active) & set(keys) == {(person, zone_id)}


def test_forgotten_people_are_taken_over_from_their_snapshot():
    index = ZoneIndex([zone(1), zone(2, people=(PERSON + 1,))])
    tracks = Tracks(THRESHOLDS)
    run(index, tracks, [900, 900], [0, 30])  # two of three fixes towards an exit
    saved = {key: track.snapshot() for key, track in tracks.take_changes()[0].items()}
    tracks.forget_people(lambda people: people == PERSON)
    assert tracks.get(PERSON, 1) is None
    # Another worker (or this one, given the partition back) goes on from the snapshot.
    other = Tracks(THRESHOLDS)
    other.restore({key: Track(**state) for key, state in saved.items()})
    assert run(index, other, [900, 900], [30, 60]) == [("opened", 0)]  # the replayed 30 s fix is skipped


def test_a_quiet_track_taken_over_still_skips_fixes_it_has_passed():
    index = ZoneIndex([zone(1)])
    tracks = Tracks(THRESHOLDS)
    run(index, tracks, [900] * 3, [0, 30, 60])
    run(index, tracks, [0, 0], [90, 120])  # back: the episode ends, the track goes quiet
    changed, dropped = tracks.take_changes()
    assert not changed and dropped == {(PERSON, 1): 120 * 1_000_000}
    other = Tracks(THRESHOLDS)
    other.restore({}, quiet=dropped)
    assert run(index, other, [900] * 3, [0, 30, 60]) == []  # a replay of the old exit raises nothing
    assert run(index, other, [900] * 3, [150, 180, 210]) == [("opened", 150)]


def test_forgetting_people_keeps_the_others_tracks():
    index = ZoneIndex([zone(1, people=(PERSON, PERSON + 1))])
    tracks = Tracks(THRESHOLDS)
    for person in (PERSON, PERSON + 1):
        batch = fixes([900, 900], [0, 30], person=person)
        tracks.advance(index, observe(index, batch, 30.0), batch)
    tracks.forget_people(lambda people: people == PERSON + 1)
    assert tracks.get(PERSON, 1) is not None and tracks.get(PERSON + 1, 1) is None
    tracks.forget_people(lambda people: np.isin(people, [PERSON]))
    assert not tracks.active


def test_what_was_learned_of_a_phone_goes_with_its_snapshot_and_only_forward(db, person_and_zone):
    person, _ = person_and_zone
    learned = DeviceNoise()
    at = np.arange(40, dtype=np.int64) * 30_000_000
    rng = np.random.default_rng(3)
    learned.update(
        {
            "supervisee_id": np.full(40, person),
            "ts_us": at,
            "lat": 41.3 + rng.normal(0, 1e-4, 40),
            "lon": 123.77 + rng.normal(0, 1e-4, 40),
            "accuracy_m": np.full(40, 5.0),
        }
    )
    assert learned.scale(person) is not None
    service.save_noise(session=db, learned=learned.state(np.array([person])))
    taken_over = DeviceNoise()
    taken_over.restore(service.load_noise(session=db, partitions=[person % 4], partition_count=4))
    assert taken_over.scale(person) == learned.scale(person)
    # An older estimate (a late batch of a worker that lost the person) does not replace it.
    older = learned.state(np.array([person])) | {"last_us": np.array([0]), "pairs": np.array([1])}
    service.save_noise(session=db, learned=older)
    saved = service.load_noise(session=db)
    assert saved["pairs"][saved["supervisee_id"] == person].tolist() == [learned.pairs[person]]
    taken_over.forget(lambda people: people == person)
    assert taken_over.scale(person) is None
