"""Datum conversion: published reference points, round trips, pass-through outside China, mixed batches."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from caseload.models import Datum
from core.datum import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    point_to_wgs84,
    to_wgs84,
    wgs84_to_gcj02,
)

# Mainland China with a margin from the algorithm's rough box, so a point and its shifted twin are both inside it.
CHINA_LON = (73.0, 135.0)
CHINA_LAT = (18.0, 53.5)
ROUND_TRIP_TOL_DEG = 1e-7

# googollee/eviltransform, python/test.py (TESTS, there in lat, lon order; reordered here to lon, lat). Values are
# printed at full double precision from the same algorithm, so they should agree to rounding noise.
EVILTRANSFORM_WGS_GCJ = [
    pytest.param(121.5272106, 31.1774276, 121.531541859215, 31.17530398364597, id="shanghai"),
    pytest.param(113.912316, 22.543847, 113.9171764808363, 22.540796131694766, id="shenzhen"),
    pytest.param(116.377817, 39.911954, 116.38404722455657, 39.91334545536069, id="beijing"),
]

# wandergis/coordtransform, test/app.js: every conversion applied to (116.404, 39.915), near Tiananmen.
COORDTRANSFORM_INPUT = (116.404, 39.915)
COORDTRANSFORM_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
COORDTRANSFORM_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
# Produced by the one-step closed-form BD-09 inverse, which is off by up to ~2e-6 degrees.
COORDTRANSFORM_BD09_TO_GCJ02_APPROX = (116.39762729119315, 39.90865673957631)

# hujiulong/gcoord, test/fixtures/china-cities.json: WGS-84 / GCJ-02 / BD-09 triples for city centres, 7 decimals.
GCOORD_CITIES = [
    pytest.param((113.6192856, 34.7478004), (113.6253334, 34.7466173), (113.6317519, 34.7528605), id="zhengzhou"),
    pytest.param((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013), id="shenyang"),
    pytest.param((92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421), id="nagqu"),
]
# Two 7-decimal roundings (input and expected value) add up to at most 1e-7; doubled for headroom.
GCOORD_BD09_TOL_DEG = 2e-7
# The fixture's WGS-84 column sits a systematic ~5e-6 degrees (half a metre) from the algorithm; gcoord itself
# checks it to 4 decimals. 1e-5 degrees is about a metre.
GCOORD_WGS84_TOL_DEG = 1e-5

# None of these is in the rough box the algorithm uses for "China" (which also covers Seoul and Singapore).
OUTSIDE_CHINA = {
    "london": (-0.1276, 51.5072),
    "new_york": (-74.0060, 40.7128),
    "tokyo": (139.6917, 35.6895),
    "sydney": (151.2093, -33.8688),
    "jakarta": (106.8456, -6.2088),
    "moscow": (37.6173, 55.7558),
}


def china_grid(step: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.arange(*CHINA_LON, step), np.arange(*CHINA_LAT, step))
    return lon, lat


def assert_close(actual, expected, tol: float) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=0, atol=tol)


@pytest.mark.parametrize(("wgs_lon", "wgs_lat", "gcj_lon", "gcj_lat"), EVILTRANSFORM_WGS_GCJ)
def test_wgs84_to_gcj02_matches_eviltransform(wgs_lon, wgs_lat, gcj_lon, gcj_lat):
    assert_close(wgs84_to_gcj02(wgs_lon, wgs_lat), (gcj_lon, gcj_lat), 1e-9)


@pytest.mark.parametrize(("wgs_lon", "wgs_lat", "gcj_lon", "gcj_lat"), EVILTRANSFORM_WGS_GCJ)
def test_gcj02_to_wgs84_recovers_eviltransform_inputs_exactly(wgs_lon, wgs_lat, gcj_lon, gcj_lat):
    # eviltransform only promises 5 m (one step) or 0.5 m (bisection); the iteration gets within 0.1 mm.
    assert_close(gcj02_to_wgs84(gcj_lon, gcj_lat), (wgs_lon, wgs_lat), 1e-9)


def test_forward_conversions_match_coordtransform():
    assert_close(wgs84_to_gcj02(*COORDTRANSFORM_INPUT), COORDTRANSFORM_WGS84_TO_GCJ02, 1e-9)
    assert_close(gcj02_to_bd09(*COORDTRANSFORM_INPUT), COORDTRANSFORM_GCJ02_TO_BD09, 1e-9)


def test_bd09_to_gcj02_improves_on_the_closed_form_inverse():
    gcj = bd09_to_gcj02(*COORDTRANSFORM_INPUT)
    assert_close(gcj, COORDTRANSFORM_BD09_TO_GCJ02_APPROX, 2e-6)
    assert_close(gcj02_to_bd09(*gcj), COORDTRANSFORM_INPUT, 1e-9)


@pytest.mark.parametrize(("wgs", "gcj", "bd"), GCOORD_CITIES)
def test_city_triples_from_gcoord(wgs, gcj, bd):
    assert_close(gcj02_to_bd09(*gcj), bd, GCOORD_BD09_TOL_DEG)
    assert_close(bd09_to_gcj02(*bd), gcj, GCOORD_BD09_TOL_DEG)
    assert_close(wgs84_to_gcj02(*wgs), gcj, GCOORD_WGS84_TOL_DEG)
    assert_close(gcj02_to_wgs84(*gcj), wgs, GCOORD_WGS84_TOL_DEG)
    assert_close(bd09_to_wgs84(*bd), wgs, GCOORD_WGS84_TOL_DEG)


def test_wgs84_gcj02_round_trip_over_china():
    lon, lat = china_grid()
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    # Sanity: the offset really is applied everywhere on the grid, so the round trip is not trivially exact.
    assert np.all(np.hypot(gcj_lon - lon, gcj_lat - lat) > 1e-4)
    assert_close(gcj02_to_wgs84(gcj_lon, gcj_lat), (lon, lat), ROUND_TRIP_TOL_DEG)


def test_wgs84_bd09_round_trip_over_china():
    lon, lat = china_grid()
    bd_lon, bd_lat = gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    assert_close(bd09_to_wgs84(bd_lon, bd_lat), (lon, lat), ROUND_TRIP_TOL_DEG)


@given(lon=st.floats(*CHINA_LON), lat=st.floats(*CHINA_LAT))
def test_round_trips_for_any_point_in_china(lon, lat):
    assert_close(gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)), (lon, lat), ROUND_TRIP_TOL_DEG)
    assert_close(bd09_to_wgs84(*gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))), (lon, lat), ROUND_TRIP_TOL_DEG)
    assert_close(bd09_to_gcj02(*gcj02_to_bd09(lon, lat)), (lon, lat), ROUND_TRIP_TOL_DEG)


@given(lon=st.floats(60.0, 150.0), lat=st.floats(-5.0, 60.0), datum=st.sampled_from(["wgs84", "gcj02", "bd09"]))
def test_one_point_in_floats_converts_as_the_arrays_do(lon, lat, datum):
    # A phone's single fix takes the float path; inside, outside and across the edges of the China box.
    assert_close(point_to_wgs84(lon, lat, datum), to_wgs84(lon, lat, datum), 1e-12)


def test_gcj02_is_wgs84_outside_china():
    lon, lat = (np.array(v) for v in zip(*OUTSIDE_CHINA.values(), strict=True))
    for convert in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = convert(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_bd09_outside_china_only_removes_the_baidu_layer():
    lon, lat = (np.array(v) for v in zip(*OUTSIDE_CHINA.values(), strict=True))
    gcj_lon, gcj_lat = bd09_to_gcj02(lon, lat)
    assert np.all(np.hypot(gcj_lon - lon, gcj_lat - lat) > 1e-3)
    wgs_lon, wgs_lat = bd09_to_wgs84(lon, lat)
    np.testing.assert_array_equal(wgs_lon, gcj_lon)
    np.testing.assert_array_equal(wgs_lat, gcj_lat)


def test_a_batch_mixing_inside_and_outside_china_treats_each_point_on_its_own():
    london = OUTSIDE_CHINA["london"]
    lon = np.array([london[0], COORDTRANSFORM_INPUT[0]])
    lat = np.array([london[1], COORDTRANSFORM_INPUT[1]])
    assert_close(wgs84_to_gcj02(lon, lat), ([london[0], 116.41024449916938], [london[1], 39.91640428150164]), 1e-9)


def test_to_wgs84_with_one_datum_per_point():
    wgs_lon, wgs_lat = china_grid(step=2.0)
    gcj_lon, gcj_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    bd_lon, bd_lat = gcj02_to_bd09(gcj_lon, gcj_lat)
    datum = np.array(["wgs84", "gcj02", "bd09"])[np.arange(wgs_lon.size).reshape(wgs_lon.shape) % 3]
    lon = np.where(datum == "gcj02", gcj_lon, np.where(datum == "bd09", bd_lon, wgs_lon))
    lat = np.where(datum == "gcj02", gcj_lat, np.where(datum == "bd09", bd_lat, wgs_lat))

    out_lon, out_lat = to_wgs84(lon, lat, datum)

    assert out_lon.shape == wgs_lon.shape
    assert_close((out_lon, out_lat), (wgs_lon, wgs_lat), ROUND_TRIP_TOL_DEG)
    is_wgs84 = datum == "wgs84"
    np.testing.assert_array_equal(out_lon[is_wgs84], wgs_lon[is_wgs84])


def test_to_wgs84_with_one_datum_for_the_batch_matches_the_single_conversions():
    lon, lat = china_grid(step=5.0)
    np.testing.assert_array_equal(to_wgs84(lon, lat, "wgs84"), (lon, lat))
    np.testing.assert_array_equal(to_wgs84(lon, lat, "gcj02"), gcj02_to_wgs84(lon, lat))
    np.testing.assert_array_equal(to_wgs84(lon, lat, "bd09"), bd09_to_wgs84(lon, lat))


def test_to_wgs84_accepts_the_device_datum_enum():
    lon, lat = COORDTRANSFORM_INPUT
    np.testing.assert_array_equal(to_wgs84(lon, lat, Datum.bd09), bd09_to_wgs84(lon, lat))
    datum = np.array([Datum.wgs84, Datum.gcj02])
    out_lon, out_lat = to_wgs84([lon, lon], [lat, lat], datum)
    assert_close((out_lon, out_lat), ([lon, gcj02_to_wgs84(lon, lat)[0]], [lat, gcj02_to_wgs84(lon, lat)[1]]), 1e-12)


@pytest.mark.parametrize("datum", ["WGS-84", "gcj-02", "", "mars"])
def test_unknown_datum_name_is_rejected(datum):
    with pytest.raises(ValueError, match=re.escape(f"unknown datum '{datum}'")):
        to_wgs84(116.4, 39.9, datum)


def test_unknown_datum_in_a_mixed_batch_is_rejected_by_name():
    with pytest.raises(ValueError, match="unknown datum 'baidu'"):
        to_wgs84([116.4, 116.4, 116.4], [39.9, 39.9, 39.9], np.array(["wgs84", "baidu", "gcj02"]))


def test_nan_gives_nan_without_warnings():
    lon = np.array([np.nan, 116.4, np.nan, COORDTRANSFORM_INPUT[0]])
    lat = np.array([39.9, np.nan, np.nan, COORDTRANSFORM_INPUT[1]])
    conversions = [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, bd09_to_wgs84]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for convert in conversions:
            out_lon, out_lat = convert(lon, lat)
            assert np.isnan(out_lon[:3]).all() and np.isnan(out_lat[:3]).all(), convert.__name__
            assert np.isfinite(out_lon[3]) and np.isfinite(out_lat[3]), convert.__name__
        out_lon, out_lat = to_wgs84(lon, lat, np.array(["gcj02", "bd09", "wgs84", "bd09"]))
    assert np.isnan(out_lon[:3]).all() and np.isnan(out_lat[:3]).all()
    assert_close((out_lon[3], out_lat[3]), bd09_to_wgs84(*COORDTRANSFORM_INPUT), 1e-12)


def test_scalars_give_zero_dimensional_arrays_and_inputs_are_not_modified():
    for convert in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, bd09_to_wgs84):
        out_lon, out_lat = convert(*COORDTRANSFORM_INPUT)
        assert isinstance(out_lon, np.ndarray) and out_lon.shape == () and out_lon.dtype == np.float64
        assert isinstance(out_lat, np.ndarray) and out_lat.shape == () and out_lat.dtype == np.float64

    lon, lat = china_grid(step=5.0)
    before = (lon.copy(), lat.copy())
    for datum in ("wgs84", "gcj02", "bd09"):
        out_lon, _ = to_wgs84(lon, lat, datum)
        assert not np.shares_memory(out_lon, lon)
    np.testing.assert_array_equal((lon, lat), before)


def test_a_million_points_convert():
    rng = np.random.default_rng(20240601)
    n = 1_000_000
    lon = rng.uniform(*CHINA_LON, n)
    lat = rng.uniform(*CHINA_LAT, n)
    datum = rng.choice(np.array(["wgs84", "gcj02", "bd09"]), n)

    out_lon, out_lat = to_wgs84(lon, lat, datum)

    assert out_lon.shape == out_lat.shape == (n,)
    assert np.isfinite(out_lon).all() and np.isfinite(out_lat).all()
    is_gcj02 = datum == "gcj02"
    assert_close(wgs84_to_gcj02(out_lon[is_gcj02], out_lat[is_gcj02]), (lon[is_gcj02], lat[is_gcj02]), 1e-7)
