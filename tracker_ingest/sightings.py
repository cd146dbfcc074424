"""Camera sightings and office check-ins: checked per record; a confident match also becomes a fix
at the camera's stored position (source ``cctv``, or ``checkin`` for office terminals and events)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caseload.models import Datum
from caseload.sources import CameraIdentity, DeviceIdentity
from core.config import Settings
from core.timezones import utcnow
from core.wire import FIX_DTYPE, SOURCE_CODE
from tracker_ingest.models import SightingKind
from tracker_ingest.schemas import RejectedRecord
from tracker_ingest.validation import Batch, TimeWindow, to_us


class SightingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_code: Annotated[str, Field(min_length=1, max_length=32)]
    ts: datetime
    confidence: Annotated[float, Field(strict=True, ge=0, le=1)]
    kind: SightingKind = SightingKind.sighting


@dataclass
class CheckedSightings:
    sightings: list[dict]  # sightings.v1 records
    fixes: Batch  # the confident ones, as fixes at the camera
    rejected: list[RejectedRecord]


def validate(
    raw: Sequence[Any],
    *,
    camera: CameraIdentity,
    people: Mapping[str, int | None],
    settings: Settings,
    now: datetime | None = None,
) -> CheckedSightings:
    window = TimeWindow.around(now or utcnow(), settings)
    received_us = window.now_us
    accepted: list[dict] = []
    rejected: list[RejectedRecord] = []
    for index, record in enumerate(raw):
        try:
            sighting = SightingIn.model_validate(record)
            ts_us = to_us(sighting.ts)
        except ValidationError as exc:
            rejected.append(
                RejectedRecord(
                    index=index,
                    error="; ".join(
                        f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
                    ),
                )
            )
            continue
        except ValueError as exc:
            rejected.append(RejectedRecord(index=index, error=str(exc)))
            continue
        supervisee_id = people.get(sighting.person_code)
        reason = window.reason(ts_us, settings) or (
            None
            if supervisee_id
            else f"person_code '{sighting.person_code}' is not a supervisee of this camera's district"
        )
        if reason:
            rejected.append(RejectedRecord(index=index, error=reason))
            continue
        accepted.append(
            {
                "camera_id": camera.camera_id,
                "supervisee_id": supervisee_id,
                "ts_us": ts_us,
                "kind": sighting.kind.value,
                "confidence": sighting.confidence,
                "received_us": received_us,
            }
        )
    confident = [s for s in accepted if s["confidence"] >= settings.sighting_min_confidence]
    return CheckedSightings(accepted, Batch.of_devices(_fixes_at_camera(camera, confident), []), rejected)


def _fixes_at_camera(camera: CameraIdentity, sightings: list[dict]) -> list[tuple[DeviceIdentity, np.ndarray]]:
    by_person: dict[int, list[dict]] = {}
    for sighting in sightings:
        by_person.setdefault(sighting["supervisee_id"], []).append(sighting)
    result = []
    for supervisee_id, seen in by_person.items():
        fixes = np.zeros(len(seen), dtype=FIX_DTYPE)
        fixes["ts_us"] = [s["ts_us"] for s in seen]
        fixes["lat"], fixes["lon"], fixes["accuracy_m"] = camera.lat, camera.lon, camera.radius_m
        fixes["speed_mps"] = fixes["heading_deg"] = fixes["altitude_m"] = np.nan
        fixes["battery_pct"] = -1
        fixes["source"] = [SOURCE_CODE["cctv" if s["kind"] == SightingKind.sighting else "checkin"] for s in seen]
        # Cameras are not devices: their fixes carry the camera's id negated, so they never collide.
        identity = DeviceIdentity(-camera.camera_id, supervisee_id, camera.code, Datum.wgs84)
        result.append((identity, fixes))
    return result
