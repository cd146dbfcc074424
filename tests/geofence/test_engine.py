"""The zone engine as pure functions: accuracy-aware classification, binding tiers, schedules,
and the dwell/hysteresis state machine with late, duplicate and out-of-order fixes."""

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from shapely.geometry import MultiPolygon, Polygon

from core.wire import AlertLevel
from geofence.config import GeofenceSettings, Thresholds
from geofence.engine import INSIDE, OUTSIDE, UNCERTAIN, ZoneIndex, observe
from geofence.models import ZoneKind
from geofence.noise import DeviceNoise
from geofence.service import RuleZone
from geofence.tracks import Track, Tracks
from tests.factories import CENTRE, offset, square

LAT, LON = CENTRE
PERSON = 7
THRESHOLDS = Thresholds(
    exit_confirm_fixes=3, exit_confirm_s=60, return_confirm_fixes=2, return_confirm_s=30, evidence_interval_s=60
)
CURFEW = {"weekly": [{"days": list(range(7)), "from": "22:00", "to": "06:00"}]}
# 2026-11-16 is a Monday; 14:00 UTC is 22:00 in Shanghai.
MONDAY_NOON_UTC = int(datetime(2026, 11, 16, 4, tzinfo=UTC).timestamp())


def polygon(half_side_m: float, north_m: float = 0, holes=()) -> MultiPolygon:
    lat, lon = offset(LAT, LON, north_m=north_m)
    ring = square(lat, lon, half_side_m)["coordinates"][0]
    return MultiPolygon([Polygon(ring, [square(lat, lon, h)["coordinates"][0] for h in holes])])


def zone(zone_id=1, kind=ZoneKind.inclusion, half_side_m=500.0, people=(PERSON,), **options) -> RuleZone:
    holes, north_m = options.pop("holes", ()), options.pop("north_m", 0)
    return RuleZone(zone_id, kind, tuple(people), polygon(half_side_m, north_m, holes), **options)


def fixes(north_m: list[float], ts_s: list[int], accuracy_m=None, person=PERSON) -> dict[str, np.ndarray]:
    points = [offset(LAT, LON, north_m=n) for n in north_m]
    return {
        "supervisee_id": np.full(len(points), person, dtype=np.int64),
        "ts_us": np.array(ts_s, dtype=np.int64) * 1_000_000,
        "lat": np.array([p[0] for p in points]),
        "lon": np.array([p[1] for p in points]),
        "accuracy_m": np.array(accuracy_m or [10.0] * len(points), dtype=float),
    }


def statuses(rule_zone: RuleZone, north_m: list[float], accuracy_m: list[float]) -> list[int]:
    index = ZoneIndex([rule_zone])
    obs = observe(index, fixes(north_m, list(range(len(north_m))), accuracy_m), 30.0)
    return obs.status[np.argsort(obs.fix)].tolist()


def run(index: ZoneIndex, tracks: Tracks, north_m, ts_s, accuracy_m=None) -> list[tuple[str, int]]:
    """(kind, when) of each event: an episode's start for ``opened``, else the fix time."""
    batch = fixes(north_m, ts_s, accuracy_m)
    events = tracks.advance(index, observe(index, batch, 30.0), batch)
    return [(e.kind, (e.started_us if e.kind == "opened" else e.ts_us) // 1_000_000) for e in events]


def test_the_whole_accuracy_circle_decides_the_side():
    got = statuses(zone(), [0, 480, 520, 600, 450, 2000, 0], [10, 10, 10, 10, 60, 400, 600])
    # The last two: accuracy wider than the shortcut band, so decided by distance (outside, uncertain).
    assert got == [INSIDE, INSIDE, OUTSIDE, OUTSIDE, UNCERTAIN, OUTSIDE, UNCERTAIN]


def test_the_buffer_of_an_inclusion_zone_is_tolerance_outwards():
    assert statuses(zone(buffer_m=100), [550, 650], [10, 10]) == [INSIDE, OUTSIDE]


def test_a_hole_is_outside_and_each_part_of_a_multipolygon_is_inside():
    assert statuses(zone(holes=(100,)), [0, 300], [5, 5]) == [OUTSIDE, INSIDE]
    two = RuleZone(1, ZoneKind.inclusion, (PERSON,), MultiPolygon([*polygon(100).geoms, *polygon(100, 1000).geoms]))
    assert statuses(two, [0, 500, 1000], [5, 5, 5]) == [INSIDE, OUTSIDE, INSIDE]


def test_a_fix_exactly_on_the_boundary_is_uncertain():
    assert statuses(zone(), [500, 500], [0.5, 5]) == [UNCERTAIN, UNCERTAIN]


@given(st.floats(min_value=-2000, max_value=2000), st.floats(min_value=0, max_value=600))
def test_a_point_is_never_called_outside_while_its_accuracy_circle_touches_the_zone(north_m, accuracy_m):
    (status,) = statuses(zone(), [north_m], [accuracy_m])
    if abs(north_m) <= 500 + accuracy_m - 0.5:
        assert status != OUTSIDE
    if abs(north_m) >= 500 + accuracy_m + 0.5:
        assert status == OUTSIDE


def test_an_exit_needs_enough_fixes_over_enough_time_and_jitter_never_flaps():
    index, tracks = ZoneIndex([zone()]), Tracks(THRESHOLDS)
    # inside; jitter on the boundary; one outlier; back; then really out from t=100
    assert run(index, tracks, [0, 495, 505, 900, 0, 0], [0, 10, 20, 30, 40, 50]) == []
    # Confirmed once the run's centroid is surely outside, given how widely its fixes spread.
    assert run(index, tracks, [700, 800, 498, 900], [100, 130, 140, 170]) == []
    assert run(index, tracks, [900], [200]) == [("opened", 100)]
    assert run(index, tracks, [0, 0], [300, 315]) == []  # two fixes back, but not yet 30 s apart
    assert run(index, tracks, [0], [340]) == [("ended", 300)]


FAR = Thresholds(
    exit_confirm_fixes=3,
    exit_confirm_s=60,
    return_confirm_fixes=2,
    return_confirm_s=30,
    evidence_interval_s=60,
    exit_confirm_far_fixes=2,
    exit_confirm_far_m=50,
)


def test_two_fixes_far_out_of_the_wall_confirm_an_exit_but_two_near_its_edge_do_not():
    # A phone reporting every 5 minutes shows a 10-minute exit in two fixes.
    index, tracks = ZoneIndex([zone()]), Tracks(FAR)
    assert run(index, tracks, [0, 1100, 1200], [0, 300, 600]) == [("opened", 300)]
    index, tracks = ZoneIndex([zone()]), Tracks(FAR)
    assert run(index, tracks, [0, 540, 545], [0, 300, 600]) == []  # out, but within 50 m of the edge


def test_the_far_rule_needs_every_precise_fix_of_the_run_far_out():
    index, tracks = ZoneIndex([zone()]), Tracks(FAR)
    # Far, then one straddling the edge (uncertain, it does not reset), then far again.
    assert run(index, tracks, [0, 1100, 500, 1200], [0, 300, 400, 600]) == []


def test_the_far_rule_does_not_apply_at_home_during_a_curfew():
    # Indoors at night, fixes straddle the edge of a small zone, and multipath outliers land far off.
    curfew = zone(2, half_side_m=150, schedule=CURFEW, priority=10)
    index, tracks = ZoneIndex([curfew]), Tracks(FAR)
    night = MONDAY_NOON_UTC + 10 * 3600
    assert run(index, tracks, [0, 700, 800], [night, night + 300, night + 600]) == []


def test_two_fixes_deep_in_a_barred_place_confirm_it_red():
    barred = zone(kind=ZoneKind.exclusion, half_side_m=200, buffer_m=100, severity=AlertLevel.red)
    index, tracks = ZoneIndex([barred]), Tracks(FAR)
    batch = fixes([1000, 0, 20], [0, 300, 600])
    events = tracks.advance(index, observe(index, batch, 30.0), batch)
    assert [(e.kind, e.level) for e in events] == [("opened", "red")]


def test_a_cell_tower_fix_on_the_right_side_does_not_reset_a_run_of_precise_fixes():
    barred = zone(kind=ZoneKind.exclusion, half_side_m=100, buffer_m=100, severity=AlertLevel.red)
    index, tracks = ZoneIndex([barred]), Tracks(THRESHOLDS)
    # Inside the barred place; a 600 m cell fix centred on a tower 1.5 km away says "outside".
    north, times, accuracy = [0, 10, 1500, 5, 0], [0, 30, 40, 60, 90], [10, 10, 600, 10, 10]
    assert [k for k, _ in run(index, tracks, north, times, accuracy)] == ["opened"]


def test_fixes_scattered_all_around_a_person_who_stays_put_raise_nothing():
    index, tracks = ZoneIndex([zone(half_side_m=150)]), Tracks(THRESHOLDS)
    # An over-confident phone: fixes 200-400 m off on both sides, each claiming 20 m.
    north = [300, -350, 250, -200, 400, -300, 220, -260] * 3
    assert run(index, tracks, north, list(range(0, 30 * len(north), 30)), [20.0] * len(north)) == []


def test_late_duplicate_and_out_of_order_fixes_change_nothing():
    index, tracks = ZoneIndex([zone()]), Tracks(THRESHOLDS)
    # Out of order within one batch: sorted by fix time first.
    assert run(index, tracks, [900, 700, 800, 0], [160, 100, 130, 0]) == [("opened", 100)]
    assert run(index, tracks, [0, 0, 0, 900], [100, 130, 160, 160]) == []  # late and duplicate


def test_the_episode_sends_evidence_while_it_lasts_at_most_once_a_minute():
    index, tracks = ZoneIndex([zone()]), Tracks(THRESHOLDS)
    times = list(range(0, 400, 30))
    kinds = [k for k, _ in run(index, tracks, [900] * len(times), times)]
    assert kinds == ["opened"] + ["evidence"] * 5


def test_an_exclusion_ring_is_yellow_and_the_zone_itself_red():
    barred = zone(kind=ZoneKind.exclusion, half_side_m=100, buffer_m=200, severity=AlertLevel.red)
    index, tracks = ZoneIndex([barred]), Tracks(THRESHOLDS)
    batch = fixes([250, 250, 250, 0, 0, 0, 900, 900], [0, 40, 80, 120, 130, 140, 300, 340])
    events = tracks.advance(index, observe(index, batch, 30.0), batch)
    assert [(e.kind, e.level, e.ts_us // 1_000_000) for e in events] == [  # opened: confirmed at 80
        ("opened", "yellow", 80),
        ("evidence", "red", 140),
        ("ended", "red", 300),
    ]
    assert {e.rule for e in events} == {"exclusion_entry"}


def test_a_curfew_binds_above_the_wall_at_night_and_ends_the_walls_episode():
    wall, curfew = zone(1), zone(2, half_side_m=150, schedule=CURFEW, priority=10)
    index, tracks = ZoneIndex([wall, curfew]), Tracks(THRESHOLDS)
    evening = MONDAY_NOON_UTC + 9 * 3600  # 21:00 local
    # At 21:00 in the wall, 300 m from home: fine. From 22:00 the curfew binds: a breach.
    assert run(index, tracks, [300, 300], [evening, evening + 600]) == []
    night = evening + 3600
    events = run(index, tracks, [300, 300, 300], [night, night + 60, night + 120])
    assert events == [("opened", night)]
    assert tracks.get(PERSON, 2).rule == "curfew_breach"


def test_an_open_wall_episode_ends_when_the_curfew_starts_binding():
    wall, curfew = zone(1), zone(2, half_side_m=150, schedule=CURFEW, priority=10)
    index, tracks = ZoneIndex([wall, curfew]), Tracks(THRESHOLDS)
    evening = MONDAY_NOON_UTC + 9 * 3600 + 1800  # 21:30 local, out of the wall
    assert run(index, tracks, [900] * 3, [evening, evening + 60, evening + 120]) == [("opened", evening)]
    night = MONDAY_NOON_UTC + 10 * 3600
    batch = fixes([900] * 3, [night, night + 60, night + 120])
    events = tracks.advance(index, observe(index, batch, 30.0), batch)
    assert [(e.zone_id, e.kind, e.rule, e.reason) for e in events] == [
        (2, "opened", "curfew_breach", ""),
        (1, "ended", "inclusion_exit", "another zone binds now"),
    ]


def test_travel_leave_joins_the_binding_tier():
    start = datetime(2026, 11, 16, tzinfo=UTC)
    leave = zone(3, north_m=5000, half_side_m=2000, travel_leave=True, valid_from=start, valid_to=None)
    index, tracks = ZoneIndex([zone(1), leave]), Tracks(THRESHOLDS)
    t = int(start.timestamp())
    assert run(index, tracks, [5000, 5000, 5000, 5000], [t, t + 60, t + 120, t + 180]) == []
    # Before the leave starts the same trip is an exit.
    index, tracks = ZoneIndex([zone(1), leave]), Tracks(THRESHOLDS)
    assert run(index, tracks, [5000] * 3, [t - 600, t - 540, t - 480]) == [("opened", t - 600)]


def test_district_wide_zones_bind_everyone_listed():
    school = zone(9, kind=ZoneKind.exclusion, half_side_m=100, people=(7, 8))
    index = ZoneIndex([school])
    assert index.zone_ids_of(7) == [9] and index.zone_ids_of(8) == [9] and index.zone_ids_of(6) == []


def test_a_restored_snapshot_continues_where_it_was():
    index, tracks = ZoneIndex([zone()]), Tracks(THRESHOLDS)
    assert run(index, tracks, [900, 900], [0, 30]) == []  # two of three fixes towards an exit
    saved = {key: track.snapshot() for key, track in tracks.take_changes()[0].items()}
    restored = Tracks(THRESHOLDS, {key: Track(**state) for key, state in saved.items()})
    assert run(index, restored, [900, 900], [30, 60]) == [("opened", 0)]  # the replayed 30 s fix is skipped
    saved = {key: track.snapshot() for key, track in restored.take_changes()[0].items()}
    again = Tracks(THRESHOLDS, {key: Track(**state) for key, state in saved.items()})
    assert run(index, again, [900, 900], [30, 60]) == []  # a replay after the snapshot raises nothing


def test_a_removed_zone_ends_its_open_episode():
    index, tracks = ZoneIndex([zone()]), Tracks(THRESHOLDS)
    run(index, tracks, [900] * 3, [0, 30, 60])
    events = tracks.forget_zones(ZoneIndex([]), at_us=100_000_000)
    assert [(e.kind, e.reason) for e in events] == [("ended", "zone removed")]


def test_a_rebuilt_index_recompiles_only_what_changed():
    wall, barred = zone(1), zone(2, kind=ZoneKind.exclusion, half_side_m=100, north_m=2000)
    first = ZoneIndex([wall, barred])
    moved = zone(2, kind=ZoneKind.exclusion, half_side_m=100, north_m=3000)
    second = ZoneIndex([moved, wall], previous=first)
    assert second.inner.area[second.position[1]] is first.inner.area[first.position[1]]
    assert statuses(moved, [3000], [10]) == [INSIDE]
    index_status = observe(second, fixes([3000, 2000], [0, 1]), 30.0)
    assert sorted(zip(index_status.zone_id.tolist(), index_status.status.tolist(), strict=True)) == [
        (1, OUTSIDE),
        (1, OUTSIDE),
        (2, OUTSIDE),
        (2, INSIDE),
    ]
    assert len(ZoneIndex([], previous=second)) == 0


def fixes_2d(north_m, east_m, ts_s, accuracy_m, person=PERSON) -> dict[str, np.ndarray]:
    points = [offset(LAT, LON, north_m=n, east_m=e) for n, e in zip(north_m, east_m, strict=True)]
    return {
        "supervisee_id": np.full(len(points), person, dtype=np.int64),
        "ts_us": np.array(ts_s, dtype=np.int64) * 1_000_000,
        "lat": np.array([p[0] for p in points]),
        "lon": np.array([p[1] for p in points]),
        "accuracy_m": np.full(len(points), accuracy_m, dtype=float),
    }


def staying_put(count: int, accuracy_m: float, overconfidence: float, seed: int = 1, start_s: int = 0) -> dict:
    """A phone at the origin every 30 s, scattering ``overconfidence`` times what it claims."""
    sigma = overconfidence * accuracy_m / 1.515
    north, east = np.random.default_rng(seed).normal(0, sigma, (2, count))
    return fixes_2d(north, east, list(range(start_s, start_s + 30 * count, 30)), accuracy_m)


def test_a_phones_overconfidence_is_learned_from_its_consecutive_fixes():
    for overconfidence in (1.0, 3.0):
        noise = DeviceNoise()
        batch = staying_put(300, 40.0, overconfidence)
        noise.update({k: v[:5] for k, v in batch.items()})
        assert noise.scale(PERSON) is None  # too few pairs to tell
        for a in range(5, 300, 7):  # batches of any size, in any order within
            noise.update({k: v[a : a + 7][::-1] for k, v in batch.items()})
        # What the pairs say, at the upper end of what they allow.
        assert overconfidence <= noise.scale(PERSON) <= 1.5 * overconfidence


def test_moving_about_now_and_then_is_not_mistaken_for_noise():
    noise = DeviceNoise()
    still = staying_put(200, 10.0, 1.0)
    # One trip in five minutes of fixes: 10 m/s for 10 min.
    trip = fixes_2d([300.0 * i for i in range(1, 21)], [0.0] * 20, list(range(6000, 6600, 30)), 10.0)
    back = staying_put(100, 10.0, 1.0, seed=2, start_s=6600)
    for batch in (still, trip, back):
        noise.update(batch)
    assert noise.scale(PERSON) < 1.3


def test_late_and_duplicate_fixes_teach_nothing():
    noise = DeviceNoise()
    batch = staying_put(40, 20.0, 2.0)
    noise.update(batch)
    pairs, median = int(noise.pairs[PERSON]), float(noise.median[PERSON])
    noise.update({k: v[10:20] for k, v in batch.items()})  # replayed
    assert (int(noise.pairs[PERSON]), float(noise.median[PERSON])) == (pairs, median)


def test_a_run_is_judged_by_the_scatter_learned_for_the_phone():
    def exit_near_the_wall(tracks: Tracks) -> list:
        # 50-70 m beyond a wall 150 m away, each fix claiming 20 m.
        batch = fixes_2d([200, 220, 210], [0, 0, 0], [10_000, 10_030, 10_060], 20.0)
        return [e.kind for e in tracks.advance(index, observe(index, batch, 30.0), batch)]

    index = ZoneIndex([zone(half_side_m=150)])
    assert exit_near_the_wall(Tracks(THRESHOLDS)) == ["opened"]  # an unknown phone: taken at its word
    learned = Tracks(THRESHOLDS)
    home = staying_put(60, 20.0, 3.0)  # the phone strays three times as far as it claims
    learned.advance(index, observe(index, home, 30.0), home)
    assert learned.noise.scale(PERSON) > 2
    assert exit_near_the_wall(learned) == []  # within what this phone's noise does


def test_an_honest_phone_on_the_move_is_confirmed_by_its_known_noise():
    index = ZoneIndex([zone()])
    # Out of the wall by 40 to 420 m, moving: the fixes spread widely, as a trip does.
    out = fixes_2d([540, 920, 690], [0, 0, 0], [10_000, 10_300, 10_600], 7.0)
    unknown = Tracks(THRESHOLDS)
    assert unknown.advance(index, observe(index, out, 30.0), out) == []  # spread alone: not sure
    known = Tracks(THRESHOLDS)
    home = staying_put(40, 7.0, 1.0)
    known.advance(index, observe(index, home, 30.0), home)
    events = known.advance(index, observe(index, out, 30.0), out)
    assert [(e.kind, e.started_us // 1_000_000) for e in events] == [("opened", 10_000)]


@pytest.mark.parametrize(
    "overrides", [{"exit_confirm_s": 10**12}, {"exit_confirm_fixes": 0}, {"evidence_interval_s": float("inf")}]
)
def test_thresholds_out_of_bounds_are_refused_at_start(overrides):
    # Unbounded, a mistyped setting overflowed the engine's times in the worker, for everyone.
    with pytest.raises(ValidationError):
        GeofenceSettings(**overrides)
