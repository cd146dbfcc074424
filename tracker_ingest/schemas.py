"""Wire formats of the native batch API (the fixes.v1 record that every consumer reads is in core.wire)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from core.timezones import Moment
from core.wire import FixSource


class NativeFix(BaseModel):
    """One fix in ``POST /api/v1/fixes``."""

    model_config = ConfigDict(extra="forbid")

    device_id: str | None = Field(None, max_length=64, description="the device's own id; defaults to the token's")
    ts: datetime = Field(description="ISO-8601 with offset, or epoch seconds")
    # Numbers must be JSON numbers (strict): "41.2" as a string is a client bug worth reporting.
    lat: Annotated[float, Field(strict=True, ge=-90, le=90)]
    lon: Annotated[float, Field(strict=True, ge=-180, le=180)]
    accuracy_m: Annotated[float, Field(strict=True, ge=0, le=100_000)] | None = None
    speed_mps: Annotated[float, Field(strict=True, ge=0, le=350)] | None = None
    heading_deg: Annotated[float, Field(strict=True, ge=0, le=360)] | None = None
    altitude_m: Annotated[float, Field(strict=True, ge=-500, le=20_000)] | None = None
    battery_pct: Annotated[float, Field(strict=True, ge=0, le=100)] | None = None
    source: Literal[FixSource.gps, FixSource.network, FixSource.lbs] = FixSource.gps
    datum: Literal["wgs84", "gcj02", "bd09"] | None = Field(None, description="default: the device's datum")


class RejectedRecord(BaseModel):
    index: int
    error: str


class BatchResult(BaseModel):
    accepted: int
    rejected: list[RejectedRecord]


TrackFrom = Annotated[Moment | None, Query(alias="from", description="UTC; default: a day before 'to'")]
TrackTo = Annotated[Moment | None, Query(description="UTC; default: now")]
DEFAULT_GAP_MIN = 10


@dataclass(frozen=True)
class TrackRange:
    """What a track's page or file covers: ``from``/``to`` (default: the last day) and how many minutes
    without a fix split it (a gap: a dashed line, a new GPX segment)."""

    since: datetime | None
    until: datetime | None
    gap_min: float


def track_range(
    from_: TrackFrom = None,
    to: TrackTo = None,
    gap_min: Annotated[float, Query(gt=0, le=1440, description="minutes without a fix that make a gap")] = (
        DEFAULT_GAP_MIN
    ),
) -> TrackRange:
    return TrackRange(from_, to, gap_min)


TrackRangeQuery = Annotated[TrackRange, Depends(track_range)]


class SightingOut(BaseModel):
    """A camera sighting or office check-in of one person, where it was recorded."""

    camera_id: int
    camera_code: str
    camera_name: str
    ts: datetime
    kind: str = Field(description="sighting, report (报到), announcement, education or community_service")
    confidence: float
