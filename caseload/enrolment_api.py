"""Enrolment photos: PUT the image's bytes as the body, GET it back (audited, never cached), DELETE it."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from caseload import enrolment
from caseload.auth import CurrentOfficer
from core.images import CONTENT_TYPES
from core.web import SessionDep

router = APIRouter(tags=["enrolment"])
PHOTO = "/supervisees/{supervisee_id}/enrolment-photo"
# A person's face must stay out of shared caches and the browser's disk cache.
PRIVATE = {"Cache-Control": "private, no-store"}
IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in CONTENT_TYPES},
    }
}


async def _raw_body(request: Request) -> bytes:
    # The image is the whole body, whatever Content-Type the client sent (the bytes say what it is).
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


@router.put(PHOTO, status_code=204, openapi_extra=IMAGE_BODY)
def put_photo(supervisee_id: int, content: RawBody, session: SessionDep, viewer: CurrentOfficer) -> Response:
    """Set the enrolment photo (officer and up, in scope): JPEG, PNG or WebP, judged by its bytes."""
    enrolment.set_photo(session=session, viewer=viewer, supervisee_id=supervisee_id, content=content)
    session.commit()
    return Response(status_code=204)


@router.get(PHOTO, response_class=Response, responses={200: {"content": {kind: {} for kind in CONTENT_TYPES}}})
def get_photo(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer) -> Response:
    """The enrolment photo itself (audited read)."""
    photo = enrolment.get_photo(session=session, viewer=viewer, supervisee_id=supervisee_id)
    session.commit()  # the audit entry of the read
    return Response(photo.content, media_type=photo.content_type, headers=PRIVATE)


@router.delete(PHOTO, status_code=204)
def delete_photo(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer) -> Response:
    """Remove the enrolment photo (officer and up, in scope)."""
    enrolment.delete_photo(session=session, viewer=viewer, supervisee_id=supervisee_id)
    session.commit()
    return Response(status_code=204)
