"""Wire formats: the native batch API, and the fixes.v1 record that every consumer reads."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field

from tracker_ingest.models import FixSource


class NativeFix(BaseModel):
    """One fix in ``POST /api/v1/fixes``."""

    model_config = ConfigDict(extra="forbid")

    device_id: str | None = Field(None, max_length=64, description="the device's own id; defaults to the token's")
    ts: datetime = Field(description="ISO-8601 with offset, or epoch seconds")
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    accuracy_m: Annotated[float, Field(ge=0, le=100_000)] | None = None
    speed_mps: Annotated[float, Field(ge=0, le=350)] | None = None
    heading_deg: Annotated[float, Field(ge=0, le=360)] | None = None
    altitude_m: Annotated[float, Field(ge=-500, le=20_000)] | None = None
    battery_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    source: Literal[FixSource.gps, FixSource.network, FixSource.lbs] = FixSource.gps


class RejectedRecord(BaseModel):
    index: int
    error: str


class BatchResult(BaseModel):
    accepted: int
    rejected: list[RejectedRecord]


# fixes.v1 ----------------------------------------------------------------------------------------
# One Kafka record carries many fixes of one supervisee (keyed by supervisee, so order holds):
# {"s": supervisee_id, "d": device_id, "f": [[ts_us, lat, lon, acc, speed, heading, alt, batt, src,
# received_us], ...]}. Positional rows keep records small and decoding cheap.

FIX_FIELDS = (
    "ts_us",
    "lat",
    "lon",
    "accuracy_m",
    "speed_mps",
    "heading_deg",
    "altitude_m",
    "battery_pct",
    "source",
    "received_us",
)


@dataclass(frozen=True, slots=True)
class FixRow:
    ts_us: int
    lat: float
    lon: float
    accuracy_m: float | None
    speed_mps: float | None
    heading_deg: float | None
    altitude_m: float | None
    battery_pct: int | None
    source: str
    received_us: int


def encode_fix_record(supervisee_id: int, device_id: int, rows: list[FixRow]) -> bytes:
    return orjson.dumps(
        {
            "s": supervisee_id,
            "d": device_id,
            "f": [
                [
                    r.ts_us,
                    r.lat,
                    r.lon,
                    r.accuracy_m,
                    r.speed_mps,
                    r.heading_deg,
                    r.altitude_m,
                    r.battery_pct,
                    r.source,
                    r.received_us,
                ]
                for r in rows
            ],
        }
    )


class UndecodableRecord(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class FixRecord:
    supervisee_id: int
    device_id: int
    rows: list[list]

    def column(self, name: str) -> list:
        index = FIX_FIELDS.index(name)
        return [row[index] for row in self.rows]


def decode_fix_record(raw: bytes) -> FixRecord:
    """Parse and check one fixes.v1 record; anything malformed raises UndecodableRecord."""
    try:
        value = orjson.loads(raw)
        record = FixRecord(int(value["s"]), int(value["d"]), value["f"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UndecodableRecord(f"not a fixes.v1 record: {exc}") from exc
    if not isinstance(record.rows, list) or any(
        not isinstance(row, list) or len(row) != len(FIX_FIELDS) for row in record.rows
    ):
        raise UndecodableRecord(f"fixes.v1 rows must be lists of {len(FIX_FIELDS)} fields")
    return record


def fix_arrays(records: list[FixRecord]) -> dict[str, np.ndarray]:
    """Columns of all fixes in a batch, for vectorised consumers."""
    count = sum(len(r.rows) for r in records)
    supervisee = np.empty(count, dtype=np.int64)
    device = np.empty(count, dtype=np.int64)
    at = 0
    for record in records:
        n = len(record.rows)
        supervisee[at : at + n] = record.supervisee_id
        device[at : at + n] = record.device_id
        at += n
    flat = [row for record in records for row in record.rows]
    columns = {"supervisee_id": supervisee, "device_id": device}
    for index, name in enumerate(FIX_FIELDS):
        values = [row[index] for row in flat]
        if name == "source":
            columns[name] = np.array(values, dtype=object)
        elif name in ("ts_us", "received_us"):
            columns[name] = np.array(values, dtype=np.int64)
        else:
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return columns
