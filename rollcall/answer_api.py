"""Staff routes for answers: an answer's photo, the officer's identity verdict, and the queue of photos
waiting for one."""

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from caseload.auth import CurrentOfficer
from core.bus import ROLLCALL, BrokerUnavailable
from core.web import SessionDep, paged
from rollcall import answer_schemas, answers, deadlines, photos, verification
from rollcall.models import Verification

router = APIRouter(tags=["roll calls"])
VerificationPage = paged(default=100, maximum=1000)


@router.get(
    "/rollcall-targets/{target_id}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def answer_photo(target_id: int, session: SessionDep, viewer: CurrentOfficer) -> Response:
    """The photo a person took to answer a roll call (audited); 404 if none, expired, or not in the caseload."""
    photo = photos.get(session, viewer=viewer, target_id=target_id)
    content, content_type = photo.content, photo.content_type
    session.commit()  # the audit entry
    return Response(content, media_type=content_type, headers={"Cache-Control": "private, no-store"})


@router.post(
    "/rollcall-targets/{target_id}/verify",
    response_model=answer_schemas.VerificationOut,
    responses={409: {"description": "the answer has no photo to verify"}},
)
def verify_answer(
    target_id: int, data: answer_schemas.VerifyIn, session: SessionDep, viewer: CurrentOfficer, request: Request
):
    """Confirm or reject that the answer's photo shows the person; a rejection raises a red
    identity_check_failed alert (sending the same verdict again is harmless)."""
    _, events = answers.verify(session, viewer, target_id, data.confirmed, data.note)
    session.commit()
    if events:
        try:
            request.app.state.publisher.publish(ROLLCALL, deadlines.outcome_records(events))
        except BrokerUnavailable as exc:
            detail = "the verdict is saved but its alert is not raised yet: send the verdict again in a moment"
            raise HTTPException(503, detail=detail, headers={"Retry-After": "5"}) from exc
    [row] = verification.list_verifications(
        session=session, viewer=viewer, status=None, limit=1, offset=0, target_id=target_id
    )
    return row


@router.get("/rollcall-verifications", response_model=list[answer_schemas.VerificationOut])
def list_verifications(
    session: SessionDep,
    viewer: CurrentOfficer,
    page: VerificationPage,
    status: Verification | None = Verification.queued,
):
    """Answers with a photo in the caller's caseload, by verification state (default: queued), oldest first."""
    return verification.list_verifications(
        session=session, viewer=viewer, status=status, limit=page.limit, offset=page.offset
    )
