"""The supervisee's phone page's REST API (#16), under /api/v1/phone: sign-in with a link's one-time
code, the home, positions from the browser, leave requests and returns, messages read, and the roll-call
stream. Only a phone session passes here (PhoneCaller): a staff token is refused, and a staff route
refuses a phone token (it has the "phone" audience, which staff tokens never carry).

The session travels as the ``ewall_phone`` cookie (HttpOnly, SameSite=Strict, Secure as the staff
cookie is) or as ``Authorization: Bearer``; a cookie-borne change must come from our own origin."""

from collections.abc import AsyncIterable

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent

from caseload import messages, phone_page, sources
from caseload.auth import check_same_origin, cookie_is_secure
from caseload.phone_page import PHONE_COOKIE, PhoneCaller, PhoneStreamCaller
from caseload.phone_schemas import MessageOut, PhonePositionIn, PhoneSession, PhoneSignIn
from core.bus import BrokerUnavailable
from core.config import get_settings
from core.db import session_scope
from core.timezones import utcnow
from core.web import SessionDep
from geofence import schemas as geofence_schemas
from officer_portal import phone_home
from tracker_ingest import validation

router = APIRouter(prefix="/phone", tags=["phone page"])


@router.post("/sign-in", response_model=PhoneSession)
def sign_in(data: PhoneSignIn, request: Request, response: Response, session: SessionDep):
    """Redeem the one-time code from the officer's link or QR code: the phone session starts (cookie
    ``ewall_phone``, and the token in the answer for clients without cookies)."""
    check_same_origin(request)
    token, link = phone_page.redeem(session=session, code=data.code)
    session.commit()
    person = phone_page.get_supervisee(session=session, supervisee_id=link.supervisee_id)
    response.set_cookie(
        PHONE_COOKIE,
        token,
        max_age=get_settings().phone_session_ttl_days * 86_400,
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(request),
        path="/",
    )
    return PhoneSession(supervisee={"name": person.full_name, "code": person.code}, token=token)


@router.post("/sign-out", status_code=204)
def sign_out(request: Request, response: Response) -> None:
    """Forget the session on this phone (the link stays valid until an officer revokes it)."""
    check_same_origin(request)
    response.delete_cookie(PHONE_COOKIE, path="/")


@router.get("/home")
def get_home(caller: PhoneCaller, session: SessionDep) -> dict:
    """The page's home: ``supervisee`` {name, code}; ``status`` {in_area: true|false|null, words};
    ``pending_rollcalls``; ``office_dates``; ``leaves`` with decisions and returns; ``messages``."""
    return phone_home.home(session=session, caller=caller)


@router.post("/positions", status_code=202)
async def post_position(data: PhonePositionIn, caller: PhoneCaller, request: Request) -> dict:
    """The browser's position, taken as a fix of this page's web device (validated as any fix; GPS)."""
    identity = await run_in_threadpool(_web_device, caller.device_id)
    record = data.model_dump(exclude_none=True, exclude={"ts"}) | {"ts": data.ts or utcnow()}
    batch = validation.validate_few([record], devices={None: identity}, settings=get_settings())
    if batch.rejected:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=batch.rejected[0].error)
    try:
        await request.app.state.phone_fixes.submit(batch)
    except BrokerUnavailable as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="positions cannot be taken just now; the page will retry"
        ) from exc
    return {"accepted": 1}


def _web_device(device_id: int):
    with session_scope() as session:
        identity = sources.device_by_id(session=session, device_id=device_id)
    if identity is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="this phone session has ended: sign in again")
    return identity


@router.post("/leaves", status_code=201)
def request_leave(data: geofence_schemas.PhoneLeaveIn, caller: PhoneCaller, session: SessionDep) -> dict:
    """请假: ask the officer for travel leave (a place, a radius around it, a window, a reason)."""
    asked = phone_home.request_leave(session=session, caller=caller, data=data)
    session.commit()
    return asked


@router.post("/leaves/{leave_id}/return", status_code=204)
def report_return(leave_id: int, caller: PhoneCaller, session: SessionDep) -> None:
    """销假: I'm back; the approved leave ends now, and the officer sees the return."""
    phone_home.report_return(session=session, caller=caller, leave_id=leave_id)
    session.commit()


@router.post("/messages/{message_id}/read", response_model=MessageOut)
def read_message(message_id: int, caller: PhoneCaller, session: SessionDep):
    """Mark an officer's message read."""
    message = messages.mark_read(session=session, supervisee_id=caller.supervisee_id, message_id=message_id)
    session.commit()
    return message


@router.get("/stream", response_class=EventSourceResponse)
async def stream(request: Request, caller: PhoneStreamCaller) -> AsyncIterable[ServerSentEvent]:
    """Server-sent events for this person's page: ``ready``, then ``rollcall`` {kind, roll_call_id}
    whenever a roll call for them is issued or answered: re-read the home then."""
    async for event in request.app.state.phone_hub.events(supervisee_id=caller.supervisee_id):
        yield event
