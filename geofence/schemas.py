"""Zone wire format: GeoJSON geometry in and out."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator

from core.db import AlertLevel
from geofence.models import ZoneKind

GeoJSONGeometry = dict[str, Any]


class ZoneIn(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    kind: ZoneKind
    supervisee_id: int | None = None
    district_id: int | None = None
    geometry: GeoJSONGeometry = Field(description="GeoJSON Polygon or MultiPolygon, WGS-84 lon/lat")
    buffer_m: Annotated[float, Field(ge=0, le=50_000)] = 0
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    severity: AlertLevel = AlertLevel.yellow

    @model_validator(mode="after")
    def one_owner(self):
        if (self.supervisee_id is None) == (self.district_id is None):
            raise ValueError("give exactly one owner: supervisee_id or district_id")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class ZoneUpdate(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | None = None
    geometry: GeoJSONGeometry | None = None
    buffer_m: Annotated[float, Field(ge=0, le=50_000)] | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    severity: AlertLevel | None = None
    active: bool | None = None


class ZoneOut(BaseModel):
    id: int
    name: str
    kind: ZoneKind
    supervisee_id: int | None
    district_id: int | None
    geometry: GeoJSONGeometry
    buffer_m: float
    valid_from: datetime | None
    valid_to: datetime | None
    severity: AlertLevel
    active: bool
    updated_at: datetime
