"""A phone's single fix takes a scalar path; it must accept, convert and refuse exactly as the
native batch checks do."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from caseload.models import Datum
from caseload.sources import DeviceIdentity
from core.config import get_settings
from core.wire import WIRE_DTYPE
from tracker_ingest import validation
from tracker_ingest.protocols.common import RawFix

ALWAYS = ((0, 2**62),)  # a monitoring window covering every time these tests use
PHONE = DeviceIdentity(device_id=7, supervisee_id=42, external_id="phone", datum=Datum.wgs84, monitored=ALWAYS)


def raw(**overrides) -> RawFix:
    values = {
        "device_key": "phone",
        "ts": datetime.now(UTC) - timedelta(minutes=1),
        "lat": 41.29,
        "lon": 123.76,
        "accuracy_m": 12.0,
        "speed_mps": 1.5,
        "heading_deg": 90.0,
        "altitude_m": 180.0,
        "battery_pct": 80,
    }
    return RawFix(**(values | overrides))


def batch_rows(fix: RawFix, identity: DeviceIdentity = PHONE) -> np.ndarray | str:
    batch = validation.validate_native(
        [validation.as_native(fix)] * 20,  # more than FEW: the vectorised checks
        devices={None: identity},
        settings=get_settings(),
    )
    if batch.rejected:
        return batch.rejected[0].error
    return batch.rows[:1]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"accuracy_m": None, "speed_mps": None, "heading_deg": None, "altitude_m": None, "battery_pct": None},
        {"datum": "gcj02"},
        {"datum": "bd09"},
        {"source": "network", "accuracy_m": 800.0},
    ],
)
def test_an_accepted_fix_is_the_row_the_batch_path_makes(overrides):
    fix = raw(**overrides)
    row = np.array([validation.check_protocol_fix(fix, PHONE, get_settings())], dtype=WIRE_DTYPE)
    expected = batch_rows(fix)
    for name in WIRE_DTYPE.names:
        np.testing.assert_allclose(row[name].astype(float), expected[name].astype(float), rtol=0, atol=1e-9)


def test_the_devices_registered_datum_applies_when_the_fix_names_none():
    chinese_phone = DeviceIdentity(device_id=8, supervisee_id=43, external_id="cn", datum=Datum.gcj02, monitored=ALWAYS)
    row = validation.check_protocol_fix(raw(), chinese_phone, get_settings())
    expected = batch_rows(raw(), chinese_phone)
    assert (row[3], row[4]) == pytest.approx((expected["lat"][0], expected["lon"][0]), abs=1e-9)
    assert row[3] != 41.29


@pytest.mark.parametrize(
    "overrides",
    [
        {"lat": 91.0},
        {"lon": -180.5},
        {"lat": 0.0, "lon": 0.0},
        {"speed_mps": 400.0},
        {"heading_deg": 361.0},
        {"altitude_m": -900.0},
        {"accuracy_m": 200_000.0},
        {"battery_pct": 101},
        {"ts": datetime.now(UTC) + timedelta(hours=1)},
        {"ts": datetime.now(UTC) - timedelta(days=400)},
        {"source": "cctv"},
        {"datum": "etrs89"},
    ],
)
def test_a_refused_fix_gets_the_batch_paths_reason(overrides):
    fix = raw(**overrides)
    reason = validation.check_protocol_fix(fix, PHONE, get_settings())
    assert isinstance(reason, str)
    assert reason == batch_rows(fix)


def test_a_fix_outside_the_monitoring_period_is_refused_by_both_paths_and_in_a_large_batch():
    now_us = validation.to_us(datetime.now(UTC))
    released = DeviceIdentity(7, 42, "phone", Datum.wgs84, monitored=((0, now_us - 3_600_000_000),))
    fix = raw(ts=datetime.now(UTC) - timedelta(minutes=1))
    assert validation.check_protocol_fix(fix, released, get_settings()) == validation.OUTSIDE_MONITORING
    inside = validation.as_native(raw(ts=datetime.now(UTC) - timedelta(hours=2)))
    outside = validation.as_native(fix)
    batch = validation.validate_native(
        [inside, outside] * validation.FEW, devices={None: released}, settings=get_settings()
    )
    assert batch.accepted == validation.FEW
    assert {r.index % 2 for r in batch.rejected} == {1}
    assert {r.error for r in batch.rejected} == {validation.OUTSIDE_MONITORING}
