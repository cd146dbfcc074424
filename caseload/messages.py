"""Officers' messages to a supervisee, read on the person's phone page (#16). Staff send and list them
within their caseload; the person lists theirs and marks them read."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseload import service
from caseload.models import Officer, OfficerMessage
from core.errors import Conflict, NotFound
from core.timezones import utcnow

# The phone page shows the latest messages only; older ones stay for the officers' list.
PHONE_MESSAGES = 20


def send(*, session: Session, viewer: Officer, supervisee_id: int, body: str) -> OfficerMessage:
    """A message from the viewer (officer+ with the person in scope) to the person's phone page."""
    person = service.get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    if not person.active:
        raise Conflict("supervision of this person has ended: no messages")
    message = OfficerMessage(supervisee_id=supervisee_id, officer_id=viewer.id, body=body)
    session.add(message)
    session.flush()
    session.refresh(message)
    service.record(session, viewer, "message.send", message.id, {"supervisee_id": supervisee_id})
    return message


def list_messages(
    *, session: Session, viewer: Officer, supervisee_id: int, limit: int | None = None, offset: int = 0
) -> Sequence[OfficerMessage]:
    """The messages sent to a person in the viewer's caseload, newest first."""
    service.get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    return _of(session, supervisee_id, limit, offset)


def for_phone(*, session: Session, supervisee_id: int) -> Sequence[OfficerMessage]:
    """The latest messages to the signed-in person, newest first."""
    return _of(session, supervisee_id, PHONE_MESSAGES, 0)


def _of(session: Session, supervisee_id: int, limit: int | None, offset: int) -> Sequence[OfficerMessage]:
    query = select(OfficerMessage).where(OfficerMessage.supervisee_id == supervisee_id)
    return session.scalars(query.order_by(OfficerMessage.id.desc()).limit(limit).offset(offset)).all()


def mark_read(*, session: Session, supervisee_id: int, message_id: int) -> OfficerMessage:
    """The person has read the message (the first time counts)."""
    message = session.get(OfficerMessage, message_id)
    if message is None or message.supervisee_id != supervisee_id:
        raise NotFound(f"message {message_id} not found")
    if message.read_at is None:
        message.read_at = utcnow()
        session.flush()
    return message
