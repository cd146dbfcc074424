"""Enrolment photos (入矫照片): the picture of the supervisee taken at enrolment, beside which officers
check the photos people take to answer roll calls. Setting one is a caseload change (officer and up, in
scope); reading one is reading a person's biometric data, so every read is audited."""

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from caseload.models import EnrolmentPhoto, Officer
from caseload.service import get_manageable_supervisee, get_supervisee, record
from core.config import get_settings
from core.errors import DomainError, Invalid, NotFound
from core.images import ACCEPTED, image_type
from core.timezones import utcnow


class PhotoTooLarge(DomainError):
    status_code = 413


def set_photo(*, session: Session, viewer: Officer, supervisee_id: int, content: bytes) -> EnrolmentPhoto:
    """Store (or replace) a person's enrolment photo: JPEG, PNG or WebP by its bytes, within the size cap."""
    person = get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    limit = get_settings().enrolment_photo_max_bytes
    if len(content) > limit:
        raise PhotoTooLarge(
            f"the photo is {len(content)} bytes, over the {limit} allowed: scale it down (about 800 px wide is enough)"
        )
    if not content:
        raise Invalid("the request has no photo: send the image's bytes as the body")
    content_type = image_type(content)
    if content_type is None:
        raise Invalid(f"not a photo this platform reads: send {ACCEPTED}")
    photo = session.get(EnrolmentPhoto, supervisee_id)
    if photo is None:
        photo = EnrolmentPhoto(supervisee_id=supervisee_id)
        session.add(photo)
    photo.content, photo.content_type = content, content_type
    photo.updated_at, photo.updated_by = utcnow(), viewer.id
    record(
        session,
        viewer,
        "supervisee.enrolment_photo_set",
        supervisee_id,
        {"bytes": len(content), "content_type": content_type},
        district_id=person.district_id,
    )
    session.flush()
    return photo


def get_photo(*, session: Session, viewer: Officer, supervisee_id: int) -> EnrolmentPhoto:
    """A person's enrolment photo (404 outside the caseload or when none was taken); the read is audited."""
    person = get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    photo = session.get(EnrolmentPhoto, supervisee_id)
    if photo is None:
        raise NotFound(f"supervisee {supervisee_id} has no enrolment photo yet")
    record(session, viewer, "supervisee.enrolment_photo_read", supervisee_id, district_id=person.district_id)
    return photo


def delete_photo(*, session: Session, viewer: Officer, supervisee_id: int) -> None:
    """Remove a person's enrolment photo (no photo is not an error: the outcome is the same)."""
    person = get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    removed = session.execute(delete(EnrolmentPhoto).where(EnrolmentPhoto.supervisee_id == supervisee_id)).rowcount
    if removed:
        record(session, viewer, "supervisee.enrolment_photo_delete", supervisee_id, district_id=person.district_id)


def photo_taken_at(*, session: Session, supervisee_ids: list[int]) -> dict:
    """When each of these people's enrolment photo was last set (absent: none), without reading the images."""
    rows = session.execute(
        select(EnrolmentPhoto.supervisee_id, EnrolmentPhoto.updated_at).where(
            EnrolmentPhoto.supervisee_id.in_(supervisee_ids)
        )
    )
    return dict(rows.all())
