"""The replay's line: speeds and their colours, the track split at gaps, and the thinning that keeps a
week of fixes drawable without losing gaps, ends or a change of source."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np

from tracker_ingest import tracks

START = datetime(2026, 5, 1, tzinfo=UTC)


def fix(seconds: float, north_m: float = 0.0, speed=None, source="gps", accuracy=10.0):
    return SimpleNamespace(
        ts=START + timedelta(seconds=seconds),
        lat=41.3 + north_m / 111_195,
        lon=123.77,
        accuracy_m=accuracy,
        speed_mps=speed,
        source=source,
        altitude_m=None,
        device_id=1,
    )


def test_speeds_are_reported_ones_or_derived_from_the_previous_fix():
    columns = tracks.Columns.of([fix(0), fix(10, 100), fix(20, 100, speed=3.0), fix(20, 150)])
    speed = tracks.speeds_mps(columns)
    assert speed[0] == 0
    assert abs(speed[1] - 10.0) < 0.05  # 100 m in 10 s
    assert speed[2] == 3.0  # as the device reported it
    assert speed[3] == 0  # same second: no speed rather than infinity


def test_speed_classes_follow_the_bounds():
    speeds = np.array([0.0, 0.5, 0.6, 1.9, 2.0, 6.9, 7.5, 19.9, 20.1, 55.0])
    assert tracks.speed_classes(speeds).tolist() == [0, 1, 1, 1, 2, 2, 3, 3, 4, 4]


def test_the_track_splits_where_no_fix_came_for_longer_than_the_gap():
    ts = np.array([0, 60, 120, 120 + 11 * 60, 120 + 12 * 60, 5000], dtype=float)
    assert tracks.gap_after(ts, 10).tolist() == [2, 4]
    assert tracks.segments(ts, 10) == [(0, 2), (3, 4), (5, 5)]
    assert tracks.segments(ts, 100) == [(0, 5)]
    assert tracks.segments(np.array([]), 10) == []


def test_pieces_join_without_holes_and_dash_the_gaps():
    drawn = np.array([0, 1, 2, 3, 4, 5])
    steps = np.array([1, 1, 3, 0, 0])  # class of 0→1, 1→2, 2→3, 3→4, 4→5
    pieces = tracks.runs(drawn, steps, gap_ends=np.array([3]))
    assert pieces == [
        {"i": [0, 1, 2], "c": 1},
        {"i": [2, 3], "c": 3},
        {"i": [3, 4], "gap": True},
        {"i": [4, 5], "c": 0},
    ]


def test_a_thinned_step_takes_the_fastest_class_it_stands_for():
    classes = np.array([0, 0, 4, 0, 1, 1], dtype=np.int8)
    assert tracks.step_classes(np.array([0, 3, 5]), classes).tolist() == [4, 1]


def test_a_week_of_fixes_thins_to_the_limit_and_keeps_gaps_ends_and_sources():
    rng = np.random.default_rng(7)
    n = 50_000
    seconds = np.arange(n) * 12.0
    seconds[30_000:] += 3600  # an hour without a fix
    north = np.cumsum(rng.normal(0, 5, n))
    sources = ["gps"] * n
    sources[20_000] = "cctv"  # a camera sighting among the phone's fixes
    fixes = [fix(s, m, source=src) for s, m, src in zip(seconds.tolist(), north.tolist(), sources, strict=True)]
    columns = tracks.Columns.of(fixes)
    gaps = tracks.gap_after(columns.ts_s, 10)
    drawn = tracks.drawn_fixes(columns, gaps, limit=4000)
    assert len(drawn) <= 4000
    assert {0, n - 1, 29_999, 30_000, 19_999, 20_000, 20_001} <= set(drawn.tolist())
    pieces = tracks.runs(drawn, tracks.step_classes(drawn, columns.source), gaps)
    assert [p["i"] for p in pieces if p.get("gap")] == [[29_999, 30_000]]
    assert any(p.get("c") == tracks.SOURCE_CODE["cctv"] and p["i"][-1] == 20_000 for p in pieces)


def test_replay_sends_every_fix_for_the_slider_and_both_colourings():
    fixes = [fix(s * 30, s * 20) for s in range(10)] + [fix(3600 + s * 30, s * 20, source="network") for s in range(5)]
    track = tracks.Track(
        SimpleNamespace(code="S1", full_name="张三", id=1), START, START + timedelta(hours=2), fixes, False
    )
    replay = tracks.replay(track, gap_min=10)
    assert len(replay["t"]) == len(replay["lat"]) == len(replay["acc"]) == 15
    assert replay["gaps"] == 1
    assert [p for p in replay["pieces"]["speed"] if p.get("gap")] == [{"i": [9, 10], "gap": True}]
    assert {p["c"] for p in replay["pieces"]["source"] if not p.get("gap")} == {0, 1}
