"""What travels on the topics named in ``core.bus``, shared by the packages that write and read them:
the level zone events and alerts carry, and the binary fixes.v1 record."""

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class AlertLevel(enum.StrEnum):
    """The level a zone's breach raises (zone-events.v1) and an alert has (alerts.v1)."""

    yellow = "yellow"  # 预警: acknowledge within 24 h
    red = "red"  # 报警: acknowledge within 15 min


class FixSource(enum.StrEnum):
    """Where a position comes from (stored in `fix.source`, carried as an index in fixes.v1)."""

    gps = "gps"
    network = "network"
    lbs = "lbs"
    cctv = "cctv"
    checkin = "checkin"


# fixes.v1 ----------------------------------------------------------------------------------------
# One Kafka record carries the fixes of many people, as a fixed header and one packed little-endian
# row per fix. A person's fixes always go to the same partition (supervisee id modulo the partition
# count) and keep their order, while concurrent requests share records (a phone's single fix costs
# no produce request of its own). Encoding and decoding are one numpy call each.

SOURCES = tuple(FixSource)  # stored as their index
SOURCE_CODE = {source.value: code for code, source in enumerate(SOURCES)}
FIX_DTYPE = np.dtype(
    [
        ("ts_us", "<i8"),  # microseconds since the Unix epoch, UTC
        ("lat", "<f8"),
        ("lon", "<f8"),
        ("accuracy_m", "<f4"),  # NaN: not reported
        ("speed_mps", "<f4"),
        ("heading_deg", "<f4"),
        ("altitude_m", "<f4"),
        ("battery_pct", "<i2"),  # -1: not reported
        ("source", "u1"),  # index into SOURCES
    ]
)
WIRE_DTYPE = np.dtype([("supervisee_id", "<i4"), ("device_id", "<i4"), *FIX_DTYPE.descr])
_MAGIC = b"EWF2"
_HEADER = struct.Struct("<4sqi")  # magic, received_us, count


class UndecodableRecord(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class FixRecord:
    received_us: int
    rows: np.ndarray  # WIRE_DTYPE


def wire_rows(supervisee_id: int | np.ndarray, device_id: int | np.ndarray, fixes: np.ndarray) -> np.ndarray:
    """Fixes with their owners' ids (one device's, or an id per row), ready to share a record with others."""
    rows = np.empty(len(fixes), dtype=WIRE_DTYPE)
    rows["supervisee_id"], rows["device_id"] = supervisee_id, device_id
    for name in FIX_DTYPE.names:
        rows[name] = fixes[name]
    return rows


def encode_fix_record(received_us: int, rows: np.ndarray) -> bytes:
    return _HEADER.pack(_MAGIC, received_us, len(rows)) + np.ascontiguousarray(rows, dtype=WIRE_DTYPE).tobytes()


def decode_fix_record(raw: bytes) -> FixRecord:
    """Parse and check one fixes.v1 record; anything malformed raises UndecodableRecord."""
    if len(raw) < _HEADER.size:
        raise UndecodableRecord(f"fixes.v1 record of {len(raw)} bytes is shorter than its header")
    magic, received_us, count = _HEADER.unpack_from(raw)
    if magic != _MAGIC:
        raise UndecodableRecord(f"not a fixes.v1 record (starts with {raw[:4]!r})")
    if len(raw) != _HEADER.size + count * WIRE_DTYPE.itemsize:
        raise UndecodableRecord(f"fixes.v1 record says {count} fixes but holds {len(raw) - _HEADER.size} bytes")
    rows = np.frombuffer(raw, dtype=WIRE_DTYPE, offset=_HEADER.size)
    if count and (rows["source"].max() >= len(SOURCES)):
        raise UndecodableRecord("fixes.v1 record has an unknown source code")
    return FixRecord(received_us, rows)


def fix_arrays(records: Sequence[FixRecord]) -> dict[str, np.ndarray]:
    """Columns of all fixes in a batch, with each fix's supervisee, device and receive time."""
    rows = np.concatenate([r.rows for r in records]) if records else np.empty(0, WIRE_DTYPE)
    columns = {name: rows[name] for name in WIRE_DTYPE.names}
    columns["supervisee_id"] = columns["supervisee_id"].astype(np.int64)
    columns["device_id"] = columns["device_id"].astype(np.int64)
    columns["received_us"] = np.repeat([r.received_us for r in records], [len(r.rows) for r in records]).astype(
        np.int64
    )
    return columns
