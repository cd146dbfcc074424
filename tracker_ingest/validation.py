"""Validation and normalisation of fixes, vectorised over a batch.

Every protocol ends here: ranges, the accepted time window, the device each fix belongs to,
and the datum. Checks run on numpy columns; only the few records that fail are looked at one
by one, to give each a precise reason."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import ValidationError

from caseload.sources import DeviceIdentity
from core import datum
from core.config import Settings
from core.timezones import utcnow
from core.wire import FIX_DTYPE, SOURCE_CODE, WIRE_DTYPE, wire_rows
from tracker_ingest.protocols.common import RawFix
from tracker_ingest.schemas import NativeFix, RejectedRecord

ALLOWED_FIELDS = frozenset(NativeFix.model_fields)
OPTIONAL_FIELDS = ("accuracy_m", "speed_mps", "heading_deg", "altitude_m", "battery_pct", "datum")
FLOAT_FIELDS = ("lat", "lon", "accuracy_m", "speed_mps", "heading_deg", "altitude_m", "battery_pct")
# Below this many records, checking one by one beats numpy's per-call costs.
FEW = 16
DATUM_SET = {name: True for name in ("wgs84", "gcj02", "bd09")}
# What a device may claim; cctv and checkin come from cameras.
DEVICE_SOURCE_CODE = {name: SOURCE_CODE[name] for name in ("gps", "network", "lbs")}
# (field, low, high) inclusive; NaN (absent) optional fields pass.
RANGES = (
    ("lat", -90, 90),
    ("lon", -180, 180),
    ("accuracy_m", 0, 100_000),
    ("speed_mps", 0, 350),
    ("heading_deg", 0, 360),
    ("altitude_m", -500, 20_000),
    ("battery_pct", 0, 100),
)


@dataclass(frozen=True)
class TimeWindow:
    """Fixes are accepted from the retention horizon up to a little in the future (clock skew)."""

    oldest_us: int
    newest_us: int
    now_us: int

    @classmethod
    def around(cls, now: datetime, settings: Settings) -> "TimeWindow":
        now_us = to_us(now)
        return cls(
            now_us - settings.fix_retention_days * 86_400_000_000,
            now_us + settings.max_fix_future_s * 1_000_000,
            now_us,
        )

    def reason(self, ts_us: int, settings: Settings) -> str | None:
        if ts_us > self.newest_us:
            return f"ts is more than {settings.max_fix_future_s} s in the future; check the device clock"
        if ts_us < self.oldest_us:
            return f"ts is older than the {settings.fix_retention_days}-day retention window"
        return None


def to_us(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("ts: a time zone offset is required (e.g. 2026-11-23T08:00:00Z)")
    return int(ts.timestamp() * 1_000_000)


def _parse_ts_us(value: Any) -> int:
    if isinstance(value, str):
        return to_us(datetime.fromisoformat(value))
    if isinstance(value, datetime):  # from a protocol parser
        return to_us(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1_000_000)  # epoch seconds
    raise ValueError("ts: give ISO-8601 with an offset, or epoch seconds")


def _ts_us_or_nan(value: Any) -> float:
    try:
        return _parse_ts_us(value)
    except (ValueError, TypeError, OverflowError):
        return np.nan


_UTC_SUFFIXES = ("+00:00", "Z")


def _ts_column(values: list) -> np.ndarray:
    """Times in µs (NaN where unreadable). Batches stamped in UTC, as most senders do, are parsed by
    numpy in one call; anything else goes value by value."""
    for suffix in _UTC_SUFFIXES:
        cut = len(suffix)
        if all(type(v) is str and v.endswith(suffix) and "T" in v for v in values):
            try:
                naive = np.array([v[:-cut] for v in values], dtype="datetime64[us]")
            except ValueError:
                break
            return naive.astype(np.int64).astype(np.float64)
    return np.fromiter((_ts_us_or_nan(v) for v in values), dtype=np.float64, count=len(values))


def _lookup(mapping: Mapping, key: Any, default: Any = None) -> Any:
    try:
        return mapping.get(key, default)
    except TypeError:  # an unhashable JSON value (list, object) where a name belongs
        return default


def _number_or_nan(value: Any) -> float:
    # bool is an int in Python but never a coordinate.
    return value if type(value) in (float, int) else np.nan


def _codes(values: list, codes: Mapping[str, int], *, default: str, missing: int) -> np.ndarray:
    if values.count(None) == len(values):
        return np.full(len(values), codes[default], dtype=np.int64)
    return np.fromiter(
        (_lookup(codes, default if v is None else v, missing) for v in values), dtype=np.int64, count=len(values)
    )


def _number_column(values: list) -> tuple[np.ndarray, np.ndarray | bool]:
    """Values as float64 with NaN for absent ones, and which were acceptable (numbers or absent)."""
    n = len(values)
    if values.count(None) == n:
        return np.full(n, np.nan), True
    try:
        # All plain numbers: numpy converts in C. Anything else (absent values, strings, booleans)
        # takes the per-value path below.
        column = np.array(values)
        if column.dtype.kind in "fi" and column.ndim == 1:
            return column.astype(np.float64, copy=False), True
    except (ValueError, OverflowError):
        pass
    column = np.fromiter((_number_or_nan(v) for v in values), dtype=np.float64, count=n)
    return column, ~np.isnan(column) | np.fromiter((v is None for v in values), dtype=bool, count=n)


@dataclass
class Batch:
    """Accepted fixes with their owners' ids, ready for fixes.v1 (WIRE_DTYPE), and a reason for every
    rejected record."""

    rows: np.ndarray
    rejected: list[RejectedRecord]

    @property
    def accepted(self) -> int:
        return len(self.rows)

    @classmethod
    def of_devices(cls, by_device: list[tuple[DeviceIdentity, np.ndarray]], rejected: list) -> "Batch":
        """From each device's fixes (FIX_DTYPE)."""
        parts = [wire_rows(identity.supervisee_id, identity.device_id, fixes) for identity, fixes in by_device]
        return cls(np.concatenate(parts) if parts else np.empty(0, dtype=WIRE_DTYPE), rejected)


def validate_native(
    raw_fixes: Sequence[Any],
    *,
    devices: Mapping[str | None, DeviceIdentity | str],
    settings: Settings,
    now: datetime | None = None,
) -> Batch:
    """Check a native batch. ``devices`` maps each record's ``device_id`` (None: not given) to the
    device it resolves to, or to the reason it does not resolve.

    The checks are masks over columns; records that fail any are explained one by one afterwards."""
    if len(raw_fixes) <= FEW:
        return validate_few(raw_fixes, devices=devices, settings=settings, now=now)
    window = TimeWindow.around(now or datetime.now(UTC), settings)
    n = len(raw_fixes)
    records = [r if type(r) is dict else {} for r in raw_fixes]
    ok = np.fromiter((type(r) is dict and r.keys() <= ALLOWED_FIELDS for r in raw_fixes), dtype=bool, count=n)
    columns = {}
    for name in FLOAT_FIELDS:
        columns[name], valid = _number_column([r.get(name) for r in records])
        ok &= valid
    lat, lon = columns["lat"], columns["lon"]
    ok &= ~np.isnan(lat) & ~np.isnan(lon) & ~((lat == 0) & (lon == 0))
    with np.errstate(invalid="ignore"):
        for name, low, high in RANGES:
            column = columns[name]
            ok &= np.isnan(column) | ((column >= low) & (column <= high))
    ts_us = _ts_column([r.get("ts") for r in records])
    with np.errstate(invalid="ignore"):
        ok &= (ts_us >= window.oldest_us) & (ts_us <= window.newest_us)
    # source, device_id and datum are usually absent from every record (one phone, its defaults):
    # then one lookup serves the whole batch.
    source = _codes([r.get("source") for r in records], DEVICE_SOURCE_CODE, default="gps", missing=255)
    ok &= source != 255
    device_ids = [r.get("device_id") for r in records]
    if device_ids.count(None) == n:
        owners = [_lookup(devices, None, "")] * n
    else:
        owners = [_lookup(devices, d, "") for d in device_ids]
    ok &= np.fromiter((type(o) is DeviceIdentity for o in owners), dtype=bool, count=n)
    ok &= _monitored(owners, ts_us, ok)
    named = [r.get("datum") for r in records]
    if named.count(None) == n and len({id(o) for o in owners}) == 1:
        datums: np.ndarray | str = owners[0].datum.value if type(owners[0]) is DeviceIdentity else "wgs84"
    else:
        datums = np.array(
            [
                d if d is not None else (o.datum.value if type(o) is DeviceIdentity else "wgs84")
                for d, o in zip(named, owners, strict=True)
            ],
            dtype=object,
        )
        ok &= np.fromiter((_lookup(DATUM_SET, d, False) for d in datums), dtype=bool, count=n)

    rejected = [
        RejectedRecord(index=int(i), error=explain(raw_fixes[i], devices=devices, window=window, settings=settings))
        for i in np.flatnonzero(~ok)
    ]
    good = np.flatnonzero(ok)
    if not len(good):
        return Batch.of_devices([], rejected)
    fixes = _fixes(good, columns, ts_us, source, datums)
    if len({id(owners[i]) for i in good}) == 1:  # the usual case: a device posting its own fixes
        return Batch.of_devices([(owners[good[0]], fixes)], rejected)
    # A gateway's batch names hundreds of devices: their ids per row, not an array per device.
    supervisee_ids = np.fromiter((owners[i].supervisee_id for i in good), dtype=np.int64, count=len(good))
    device_ids = np.fromiter((owners[i].device_id for i in good), dtype=np.int64, count=len(good))
    return Batch(wire_rows(supervisee_ids, device_ids, fixes), rejected)


def check_one(
    raw: Any, *, devices: Mapping[str | None, DeviceIdentity | str], window: TimeWindow, settings: Settings
) -> tuple[NativeFix, DeviceIdentity, int] | str:
    """One record checked on its own: (fix, its device, ts in µs), or why it is rejected, in the
    order a person would fix it."""
    try:
        fix = NativeFix.model_validate(raw)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors())
    if fix.lat == 0 and fix.lon == 0:
        return "lat/lon 0,0 is a receiver's placeholder, not a position"
    try:
        ts_us = to_us(fix.ts)
    except ValueError as exc:
        return str(exc)
    if reason := window.reason(ts_us, settings):
        return reason
    resolved = devices.get(fix.device_id, f"device_id '{fix.device_id}' is not a registered device")
    if isinstance(resolved, str):
        return resolved
    if not resolved.monitors(ts_us):
        return OUTSIDE_MONITORING
    return fix, resolved, ts_us


# Art. 29 of the community-corrections law allows electronic monitoring only for an approved period:
# positions from outside it are not taken at all.
OUTSIDE_MONITORING = (
    "ts: outside this person's approved electronic monitoring period (社区矫正法 art. 29); "
    "positions are not taken before it begins, after it ends or after its release"
)


def _monitored(owners: list, ts_us: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Per record still ok: is its time inside its person's monitoring windows?"""
    inside = np.zeros(len(owners), dtype=bool)
    rows = np.flatnonzero(ok)
    if not len(rows):
        return inside
    if len({id(owners[i]) for i in rows.tolist()}) == 1:  # one phone's batch: one pass per window
        for start, end in owners[rows[0]].monitored:
            inside[rows] |= (ts_us[rows] >= start) & (ts_us[rows] < end)
        return inside
    for i in rows.tolist():
        inside[i] = owners[i].monitors(int(ts_us[i]))
    return inside


def explain(
    raw: Any, *, devices: Mapping[str | None, DeviceIdentity | str], window: TimeWindow, settings: Settings
) -> str:
    """Why one record the vectorised checks refused was rejected."""
    checked = check_one(raw, devices=devices, window=window, settings=settings)
    return checked if isinstance(checked, str) else "ts: not an ISO-8601 time with an offset, nor epoch seconds"


def validate_few(
    raw_fixes: Sequence[Any],
    *,
    devices: Mapping[str | None, DeviceIdentity | str],
    settings: Settings,
    now: datetime | None = None,
) -> Batch:
    """The same checks record by record: cheaper than numpy's fixed costs for a phone's single fix."""
    window = TimeWindow.around(now or datetime.now(UTC), settings)
    rejected, accepted = [], []
    for index, raw in enumerate(raw_fixes):
        checked = check_one(raw, devices=devices, window=window, settings=settings)
        if isinstance(checked, str):
            rejected.append(RejectedRecord(index=index, error=checked))
        else:
            accepted.append(checked)
    groups: dict[DeviceIdentity, list] = {}
    for fix, identity, ts_us in accepted:
        groups.setdefault(identity, []).append((fix, ts_us))
    return Batch.of_devices([(identity, _fixes_of(identity, fixes)) for identity, fixes in groups.items()], rejected)


def _fixes_of(identity: DeviceIdentity, checked: list[tuple[NativeFix, int]]) -> np.ndarray:
    def value(v: float | None) -> float:
        return np.nan if v is None else v

    fixes = np.array(
        [
            (
                ts_us,
                f.lat,
                f.lon,
                value(f.accuracy_m),
                value(f.speed_mps),
                value(f.heading_deg),
                value(f.altitude_m),
                -1 if f.battery_pct is None else f.battery_pct,
                SOURCE_CODE[f.source],
            )
            for f, ts_us in checked
        ],
        dtype=FIX_DTYPE,
    )
    datums = [f.datum or identity.datum.value for f, _ in checked]
    if any(name != "wgs84" for name in datums):
        fixes["lon"], fixes["lat"] = datum.to_wgs84(fixes["lon"], fixes["lat"], np.array(datums))
    return fixes


def _fixes(
    good: np.ndarray, columns: dict[str, np.ndarray], ts_us: np.ndarray, source: np.ndarray, datums: np.ndarray
) -> np.ndarray:
    fixes = np.zeros(len(good), dtype=FIX_DTYPE)
    fixes["ts_us"] = ts_us[good]
    for name in ("accuracy_m", "speed_mps", "heading_deg", "altitude_m"):
        fixes[name] = columns[name][good]
    battery = columns["battery_pct"][good]
    fixes["battery_pct"] = np.where(np.isnan(battery), -1, battery)
    fixes["source"] = source[good]
    lon, lat = columns["lon"][good], columns["lat"][good]
    chosen = datums if isinstance(datums, str) else datums[good].astype(str)
    if np.any(chosen != "wgs84"):
        lon, lat = datum.to_wgs84(lon, lat, chosen)
    fixes["lon"], fixes["lat"] = lon, lat
    return fixes


def as_native(raw: RawFix) -> dict:
    """A protocol's parsed fix in the native record shape, so every protocol shares one validation."""
    record = {"ts": raw.ts or utcnow(), "lat": raw.lat, "lon": raw.lon, "source": raw.source}
    for name in OPTIONAL_FIELDS:
        if (value := getattr(raw, name)) is not None:
            record[name] = value
    return record


def check_protocol_fix(raw: RawFix, identity: DeviceIdentity, settings: Settings) -> tuple | str:
    """A phone protocol's single fix as a fixes.v1 row (WIRE_DTYPE order), or why it is rejected.

    Plain comparisons: for one fix they cost a fraction of a model validation or numpy's per-call
    costs. Anything they refuse is explained by the native batch's own checks, so both paths give
    the same reasons."""
    ts_us = to_us(raw.ts or utcnow())
    window = TimeWindow.around(datetime.now(UTC), settings)
    values = [getattr(raw, name) for name, _, _ in RANGES]
    in_range = all(value is None or low <= value <= high for value, (_, low, high) in zip(values, RANGES, strict=True))
    chosen = raw.datum or identity.datum.value
    if (
        not in_range
        or values[0] is None
        or values[1] is None
        or (raw.lat == 0 and raw.lon == 0)
        or not window.oldest_us <= ts_us <= window.newest_us
        or raw.source not in DEVICE_SOURCE_CODE
        or chosen not in DATUM_SET
        or not identity.monitors(ts_us)
    ):
        return explain(as_native(raw), devices={None: identity}, window=window, settings=settings)
    lat, lon = raw.lat, raw.lon
    if chosen != "wgs84":
        lon, lat = datum.point_to_wgs84(lon, lat, chosen)
    return (
        identity.supervisee_id,
        identity.device_id,
        ts_us,
        lat,
        lon,
        *(np.nan if raw_value is None else raw_value for raw_value in values[2:6]),
        -1 if raw.battery_pct is None else raw.battery_pct,
        DEVICE_SOURCE_CODE[raw.source],
    )
