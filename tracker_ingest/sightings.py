"""Camera sightings and office check-ins: checked per record; a confident match also becomes a fix
at the camera's stored position (source ``cctv``, or ``checkin`` for office terminals and events).
Officers read a person's sightings back (报到 history) through read_sightings."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseload import service as caseload_service
from caseload import sources as caseload_sources
from caseload.models import Datum, Officer
from caseload.sources import CameraIdentity, DeviceIdentity
from core.config import Settings
from core.timezones import utcnow
from core.wire import FIX_DTYPE, SOURCE_CODE
from tracker_ingest.models import Sighting, SightingKind
from tracker_ingest.schemas import RejectedRecord, SightingOut
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


def read_sightings(
    session: Session, *, viewer: Officer, supervisee_id: int, limit: int = 50, offset: int = 0
) -> list[SightingOut]:
    """A person's camera sightings and office check-ins (报到 history), newest first, with where they
    were; 404 outside the viewer's caseload. Reading someone's whereabouts is audited, as a track is."""
    person = caseload_service.get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    rows = session.scalars(
        select(Sighting)
        .where(Sighting.supervisee_id == supervisee_id)
        .order_by(Sighting.ts.desc(), Sighting.camera_id)
        .limit(limit)
        .offset(offset)
    ).all()
    cameras = caseload_sources.camera_names(session=session, camera_ids=list({row.camera_id for row in rows}))
    caseload_service.record(
        session,
        viewer,
        "supervisee.sightings_read",
        supervisee_id,
        {"count": len(rows), "offset": offset},
        district_id=person.district_id,
    )
    unknown = ("?", "?", None)  # a camera's row outlives nothing, but a sighting must still show
    return [
        SightingOut(
            camera_id=row.camera_id,
            camera_code=cameras.get(row.camera_id, unknown)[0],
            camera_name=cameras.get(row.camera_id, unknown)[1],
            ts=row.ts,
            kind=row.kind,
            confidence=row.confidence,
        )
        for row in rows
    ]
