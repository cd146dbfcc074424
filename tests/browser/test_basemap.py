"""static/basemap.js draws WGS-84 positions on GCJ-02 tiles (Amap, Tencent) with the same offset as
core/datum.py, and shifts shapes drawn on such tiles back; on WGS-84 tiles (OSM, 天地图) and outside
China it changes nothing. The script is the one the running portal serves, in real Chromium."""

import json

import numpy as np
import pytest

from core.datum import gcj02_to_wgs84, wgs84_to_gcj02

pytestmark = pytest.mark.browser

# (lat, lon): in China from the far west to the north-east and the south coast, then outside it.
IN_CHINA = [(41.29, 123.77), (39.9087, 116.3975), (31.2304, 121.4737), (43.8256, 87.6168), (22.5431, 114.0579)]
OUTSIDE = [(35.6762, 139.6503), (48.8566, 2.3522), (40.7128, -74.006), (-33.8688, 151.2093)]
AGREE_DEG = 1e-7


def _load(page, portal_url: str, datum: str) -> None:
    config = {"datum": datum, "tiles": "http://127.0.0.1:1/{z}/{x}/{y}.png", "centre": [41.29, 123.77]}
    page.set_content(
        f'<script type="application/json" id="map-config">{json.dumps(config)}</script>'
        f'<script src="{portal_url}/static/basemap.js"></script>'
    )
    page.wait_for_function("window.ewallMap !== undefined")


def _call(page, function: str, points: list[tuple[float, float]]) -> np.ndarray:
    return np.array(page.evaluate(f"points => points.map(([lat, lon]) => ewallMap.{function}(lat, lon))", points))


def test_gcj02_tiles_shift_positions_as_core_datum_does(page, portal_url):
    _load(page, portal_url, "gcj02")
    lat, lon = np.array(IN_CHINA + OUTSIDE).T

    shifted = _call(page, "toMap", IN_CHINA + OUTSIDE)
    expected_lon, expected_lat = wgs84_to_gcj02(lon, lat)
    assert np.abs(shifted - np.column_stack([expected_lat, expected_lon])).max() < AGREE_DEG
    # The offset is real in China (hundreds of metres) and nothing outside it.
    assert (np.abs(shifted[: len(IN_CHINA), 0] - lat[: len(IN_CHINA)]) > 1e-4).all()
    assert (shifted[len(IN_CHINA) :] == np.column_stack([lat, lon])[len(IN_CHINA) :]).all()

    drawn = [tuple(p) for p in np.column_stack([expected_lat, expected_lon]).tolist()]
    back = _call(page, "fromMap", drawn)
    wgs_lon, wgs_lat = gcj02_to_wgs84(expected_lon, expected_lat)
    assert np.abs(back - np.column_stack([wgs_lat, wgs_lon])).max() < AGREE_DEG
    assert np.abs(back - np.column_stack([lat, lon])).max() < AGREE_DEG

    # Shapes as GeoJSON ([lon, lat]) go the same way, and come back.
    ring = [[lon_, lat_] for lat_, lon_ in IN_CHINA[:3] + IN_CHINA[:1]]
    polygon = page.evaluate("ring => ewallMap.geometryToMap({type: 'Polygon', coordinates: [ring]})", ring)
    on_tiles = np.array(polygon["coordinates"][0])
    expected = np.column_stack(wgs84_to_gcj02(*np.array(ring).T))
    assert np.abs(on_tiles - expected).max() < AGREE_DEG
    round_trip = page.evaluate("g => ewallMap.geometryFromMap(g)", polygon)
    assert np.abs(np.array(round_trip["coordinates"][0]) - np.array(ring)).max() < AGREE_DEG


def test_wgs84_tiles_draw_positions_unchanged(page, portal_url):
    _load(page, portal_url, "wgs84")
    points = IN_CHINA + OUTSIDE
    assert (_call(page, "toMap", points) == np.array(points)).all()
    assert (_call(page, "fromMap", points) == np.array(points)).all()
