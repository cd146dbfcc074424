"""Answer photos: what counts as an image, storing a batch with its expiry, the officer's audited read,
and the retention purge."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer, Supervisee
from core.db import delete_in_batches
from core.errors import NotFound
from core.timezones import utcnow
from rollcall.config import get_rollcall_settings
from rollcall.models import RollCallPhoto, RollCallTarget

# What a browser's camera or canvas produces, recognised by the file's first bytes (the declared type
# is the sender's word only).
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
PURGE_BATCH_ROWS = 1000


def image_type(content: bytes) -> str | None:
    """The image's content type by its magic bytes (JPEG, PNG or WebP), or None if it is none of them."""
    for magic, content_type in _MAGIC:
        if content.startswith(magic):
            return content_type
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class NewPhoto:
    target_id: int
    content_type: str
    content: bytes
    taken_at: datetime


def store(session: Session, photos: Sequence[NewPhoto]) -> None:
    """Keep a batch of new answers' photos until their retention ends, by binary COPY (megabytes per
    batch: COPY moves them several times faster than INSERTs). Only for targets answered in this
    transaction, which had no photo."""
    if not photos:
        return
    keep = timedelta(days=get_rollcall_settings().photo_retention_days)
    raw = session.connection().connection.driver_connection
    columns = "target_id, content_type, content, taken_at, expires_at"
    with raw.cursor() as cursor, cursor.copy(f"COPY roll_call_photo ({columns}) FROM STDIN (FORMAT binary)") as copy:
        copy.set_types(["bigint", "text", "bytea", "timestamptz", "timestamptz"])
        for p in photos:
            copy.write_row((p.target_id, p.content_type, p.content, p.taken_at, p.taken_at + keep))


def get(session: Session, *, viewer: Officer, target_id: int) -> RollCallPhoto:
    """A target's answer photo for staff who may see the person (else 404); every read is audited."""
    found = session.execute(
        select(RollCallPhoto, Supervisee.district_id, RollCallTarget.supervisee_id)
        .join(RollCallTarget, RollCallTarget.id == RollCallPhoto.target_id)
        .join(Supervisee, Supervisee.id == RollCallTarget.supervisee_id)
        .where(
            RollCallPhoto.target_id == target_id,
            RollCallTarget.supervisee_id.in_(caseload_scope.visible_supervisee_ids(session=session, viewer=viewer)),
        )
    ).first()
    if found is None:
        raise NotFound(f"no photo for roll-call target {target_id} (none taken, expired, or not in your caseload)")
    photo, district_id, supervisee_id = found
    caseload_service.record(
        session,
        viewer,
        "rollcall_photo.read",
        target_id,
        {"supervisee_id": supervisee_id},
        district_id=district_id,
    )
    return photo


def purge_expired(session: Session, *, now: datetime | None = None, batch_rows: int = PURGE_BATCH_ROWS) -> int:
    """Delete photos past their retention, a committed batch at a time (short locks); returns how many."""
    return delete_in_batches(
        session,
        table="roll_call_photo",
        where="expires_at <= :now",
        params={"now": now or utcnow()},
        batch_rows=batch_rows,
    )
