"""The zone engine as pure functions: accuracy-aware classification and the side state machine."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon

from core.db import AlertLevel
from geofence.engine import INSIDE, OUTSIDE, UNCERTAIN, CompiledZone, ZoneIndex, ZoneStates, evaluate
from geofence.models import ZoneKind
from geofence.service import RuleZone
from tests.factories import CENTRE, offset, square

LAT, LON = CENTRE


def zone(kind=ZoneKind.inclusion, buffer_m=0.0, half_side_m=500.0, holes=()) -> RuleZone:
    ring = square(LAT, LON, half_side_m)["coordinates"][0]
    hole_rings = [square(LAT, LON, h)["coordinates"][0] for h in holes]
    return RuleZone(1, kind, 7, MultiPolygon([Polygon(ring, hole_rings)]), buffer_m, AlertLevel.yellow, None, None)


def classify(rule_zone: RuleZone, north_m: list[float], accuracy_m: list[float]):
    points = [offset(LAT, LON, north_m=n) for n in north_m]
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    compiled = CompiledZone.compile(rule_zone)
    return compiled.classify(lon, lat, np.array(accuracy_m)), compiled.distance_m(lon, lat)


def test_the_whole_accuracy_circle_decides_the_side():
    status, distance = classify(zone(), [0, 480, 520, 600, 450, 2000, 0], [10, 10, 10, 10, 60, 400, 600])
    # The last two: accuracy wider than the shortcut band, so decided by distance (outside, uncertain).
    assert status.tolist() == [INSIDE, INSIDE, OUTSIDE, OUTSIDE, UNCERTAIN, OUTSIDE, UNCERTAIN]
    assert abs(distance[2] - 20) < 0.5 and abs(distance[3] - 100) < 0.5


def test_the_buffer_of_an_inclusion_zone_is_tolerance_outwards():
    status, _ = classify(zone(buffer_m=100), [550, 650], [10, 10])
    assert status.tolist() == [INSIDE, OUTSIDE]


def test_a_hole_is_outside():
    status, _ = classify(zone(holes=(100,)), [0, 300], [5, 5])
    assert status.tolist() == [OUTSIDE, INSIDE]


@given(st.floats(min_value=-2000, max_value=2000), st.floats(min_value=0, max_value=600))
def test_a_point_is_never_called_outside_while_its_accuracy_circle_touches_the_zone(north_m, accuracy_m):
    status, _ = classify(zone(), [north_m], [accuracy_m])
    if abs(north_m) <= 500 + accuracy_m - 0.5:
        assert status[0] != OUTSIDE
    if abs(north_m) >= 500 + accuracy_m + 0.5:
        assert status[0] == OUTSIDE


def batch(north_m: list[float], ts_s: list[int], accuracy_m: list[float] | None = None) -> dict[str, np.ndarray]:
    points = [offset(LAT, LON, north_m=n) for n in north_m]
    n = len(points)
    return {
        "supervisee_id": np.full(n, 7),
        "ts_us": np.array(ts_s) * 1_000_000,
        "lat": np.array([p[0] for p in points]),
        "lon": np.array([p[1] for p in points]),
        "accuracy_m": np.array(accuracy_m or [10.0] * n),
    }


def test_uncertain_fixes_never_flap_the_side():
    index, states = ZoneIndex([zone()]), ZoneStates()
    # inside, jitter on the boundary, outside, jitter again, outside
    events = evaluate(index, states, batch([0, 495, 505, 700, 498, 800], [1, 2, 3, 4, 5, 6]), 30.0)
    assert [(e.kind, e.ts_us // 1_000_000) for e in events] == [("enter", 1), ("exit", 4)]


def test_late_and_duplicate_fixes_are_ignored_and_order_within_a_batch_does_not_matter():
    index, states = ZoneIndex([zone()]), ZoneStates()
    events = evaluate(index, states, batch([700, 0], [20, 10]), 30.0)  # delivered out of order
    assert [e.kind for e in events] == ["enter", "exit"]
    assert evaluate(index, states, batch([0, 700], [15, 20]), 30.0) == []  # late and duplicate


def test_people_without_zones_produce_nothing():
    fixes = batch([5000], [1])
    fixes["supervisee_id"] = np.array([99])
    assert evaluate(ZoneIndex([zone()]), ZoneStates(), fixes, 30.0) == []
