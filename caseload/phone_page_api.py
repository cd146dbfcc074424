"""Staff routes for the phone page (#16): sign-in links (make, list, revoke) and messages to the
person. The link's code is in the answer that makes it, and nowhere else."""

from fastapi import APIRouter

from caseload import messages, phone_page
from caseload.auth import CurrentOfficer
from caseload.phone_schemas import MessageIn, MessageOut, PhoneLinkIssued, PhoneLinkOut
from caseload.phone_setup import qr_svg
from core.config import get_settings
from core.web import SessionDep, StaffPage

router = APIRouter(tags=["phone page"])


@router.post("/supervisees/{supervisee_id}/phone-links", response_model=PhoneLinkIssued, status_code=201)
def issue_phone_link(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer):
    """A one-time sign-in link for the person's phone page, with its QR code: shown this once."""
    link, code = phone_page.issue_link(session=session, viewer=viewer, supervisee_id=supervisee_id)
    session.commit()
    url = f"{get_settings().portal_url_for_phones}/m/?code={code}"
    return PhoneLinkIssued(**PhoneLinkOut.model_validate(link).model_dump(), code=code, url=url, qr_svg=qr_svg(url))


@router.get("/supervisees/{supervisee_id}/phone-links", response_model=list[PhoneLinkOut])
def list_phone_links(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer):
    """The person's sign-in links, newest first (codes are never shown again)."""
    return phone_page.list_links(session=session, viewer=viewer, supervisee_id=supervisee_id)


@router.post("/phone-links/{link_id}/revoke", response_model=PhoneLinkOut)
def revoke_phone_link(link_id: int, session: SessionDep, viewer: CurrentOfficer):
    """End the phone's session now (its web device is switched off too)."""
    link = phone_page.revoke(session=session, viewer=viewer, link_id=link_id)
    session.commit()
    return link


@router.get("/supervisees/{supervisee_id}/messages", response_model=list[MessageOut])
def list_messages(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer, page: StaffPage):
    """Messages sent to the person's phone page, newest first, with when they were read."""
    return messages.list_messages(
        session=session, viewer=viewer, supervisee_id=supervisee_id, limit=page.limit, offset=page.offset
    )


@router.post("/supervisees/{supervisee_id}/messages", response_model=MessageOut, status_code=201)
def send_message(supervisee_id: int, data: MessageIn, session: SessionDep, viewer: CurrentOfficer):
    """Send a message to the person's phone page."""
    message = messages.send(session=session, viewer=viewer, supervisee_id=supervisee_id, body=data.body)
    session.commit()
    return message
