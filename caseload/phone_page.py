"""The supervisee's phone page (#16): one-time sign-in links an officer makes, redeemed once by the
person's phone for a session bound to that link, and revoked by an officer to end it.

A link's code is long and random, stored as its SHA-256 only and valid ``link_code_ttl_hours``.
Redeeming it makes the link's ``web`` device (the page's positions are that device's fixes) and
returns a phone token (core.security, audience "phone"); revoking the link deactivates the device and
refuses the token from the next request on: ``PhoneCaller`` reads the link on every call (one
primary-key lookup), so a revocation needs no cache to expire."""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from caseload import service
from caseload.auth import check_same_origin
from caseload.models import Device, DeviceKind, Officer, PhonePageLink, Supervisee
from core import audit
from core.db import session_scope
from core.errors import Conflict, DomainError, NotFound
from core.security import InvalidToken, create_phone_token, decode_phone_token, hash_device_token, new_device_token
from core.timezones import utcnow
from core.web import SessionDep
from rollcall.config import get_rollcall_settings

PHONE_COOKIE = "ewall_phone"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotSignedIn(DomainError):
    status_code = 401


def _actor(supervisee_id: int) -> str:
    return f"supervisee:{supervisee_id}"


def issue_link(*, session: Session, viewer: Officer, supervisee_id: int) -> tuple[PhonePageLink, str]:
    """A new one-time sign-in code for the person's phone (officer+ with the person in their caseload);
    returns the link and its code, which is not stored and cannot be shown again."""
    person = service.get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    if not person.active:
        raise Conflict("supervision of this person has ended: no phone page")
    code = secrets.token_urlsafe(24)
    ttl = timedelta(hours=get_rollcall_settings().link_code_ttl_hours)
    link = PhonePageLink(
        supervisee_id=supervisee_id,
        code_hash=hash_device_token(code),
        created_by=viewer.id,
        code_expires_at=utcnow() + ttl,
    )
    session.add(link)
    session.flush()
    session.refresh(link)
    service.record(session, viewer, "phone_link.issue", link.id, {"supervisee_id": supervisee_id})
    return link, code


def list_links(*, session: Session, viewer: Officer, supervisee_id: int) -> Sequence[PhonePageLink]:
    """The person's sign-in links, newest first."""
    service.get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    query = select(PhonePageLink).where(PhonePageLink.supervisee_id == supervisee_id)
    return session.scalars(query.order_by(PhonePageLink.id.desc())).all()


def revoke(*, session: Session, viewer: Officer, link_id: int) -> PhonePageLink:
    """End the link's phone session now and switch its web device off (officer+ in scope)."""
    link = session.get(PhonePageLink, link_id)
    if link is None:
        raise NotFound(f"phone link {link_id} not found")
    try:
        service.get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=link.supervisee_id)
    except NotFound:
        raise NotFound(f"phone link {link_id} not found") from None
    if link.revoked_at is not None:
        raise Conflict(f"phone link {link_id} was already revoked at {link.revoked_at.isoformat()}")
    link.revoked_at, link.revoked_by = utcnow(), viewer.id
    if link.device_id is not None:
        session.execute(update(Device).where(Device.id == link.device_id).values(active=False))
    session.flush()
    service.record(session, viewer, "phone_link.revoke", link.id, {"supervisee_id": link.supervisee_id})
    return link


def redeem(*, session: Session, code: str) -> tuple[str, PhonePageLink]:
    """Sign a phone in with a link's one-time code: the phone token, and the link, now bound to a new
    web device. A used, expired, revoked or unknown code is refused with the same reason, so that
    guessing learns nothing."""
    link = session.scalar(
        select(PhonePageLink).where(PhonePageLink.code_hash == hash_device_token(code)).with_for_update()
    )
    person = session.get(Supervisee, link.supervisee_id) if link is not None else None
    if (
        link is None
        or person is None
        or not person.active
        or link.redeemed_at is not None
        or link.revoked_at is not None
        or link.code_expires_at <= utcnow()
    ):
        raise NotSignedIn(
            "登录码无效（已用过、已过期或已撤销），请向矫正民警索取新的链接。"
            "This sign-in code is not valid (used, expired or revoked): ask your officer for a new one."
        )
    # The web device reports only through the phone session: its token is random and never given out;
    # its id names the link, for the officers' device list.
    device = Device(
        supervisee_id=person.id,
        kind=DeviceKind.web,
        external_id=f"phone-page-{link.id}",
        token_hash=hash_device_token(new_device_token()),
    )
    session.add(device)
    session.flush()
    link.redeemed_at, link.device_id = utcnow(), device.id
    session.flush()
    audit.append(
        session,
        actor=_actor(person.id),
        action="phone_link.redeem",
        entity="phone_link",
        entity_id=link.id,
        detail={"device_id": device.id},
        district_id=person.district_id,
    )
    return create_phone_token(supervisee_id=person.id, link_id=link.id), link


@dataclass(frozen=True)
class PhoneCallerInfo:
    """Who is calling from a phone page: the person, through which link, reporting as which device."""

    supervisee_id: int
    link_id: int
    device_id: int
    district_id: int


def _session_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(PHONE_COOKIE)


def caller_of(request: Request, session: Session) -> PhoneCallerInfo:
    """The phone caller, or 401: no phone token (a staff token never passes), an expired one, or its
    link revoked. A cookie-borne state change must also come from our own origin (the cookie is
    SameSite=Strict as well)."""
    token = _session_token(request)
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="未登录：请打开矫正民警发给你的链接 not signed in: open the link your officer gave you",
        )
    try:
        claims = decode_phone_token(token)
    except InvalidToken:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="登录已失效，请重新登录 this phone session is not valid or has expired: sign in again",
        ) from None
    if request.method not in _SAFE_METHODS and not request.headers.get("authorization"):
        check_same_origin(request)
    row = session.execute(
        select(PhonePageLink.device_id, Supervisee.district_id)
        .join(Supervisee, Supervisee.id == PhonePageLink.supervisee_id)
        .where(
            PhonePageLink.id == claims.link_id,
            PhonePageLink.supervisee_id == claims.supervisee_id,
            PhonePageLink.revoked_at.is_(None),
            PhonePageLink.device_id.is_not(None),
            Supervisee.active,
        )
    ).first()
    if row is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="登录已结束，请向矫正民警索取新的链接 this phone session has ended: ask your officer for a new link",
        )
    return PhoneCallerInfo(claims.supervisee_id, claims.link_id, row.device_id, row.district_id)


def phone_caller(request: Request, session: SessionDep) -> PhoneCallerInfo:
    return caller_of(request, session)


def stream_caller(request: Request) -> PhoneCallerInfo:
    """As PhoneCaller, with a session closed before the stream starts (a stream lasts hours and must
    not hold a database connection)."""
    with session_scope() as session:
        return caller_of(request, session)


PhoneCaller = Annotated[PhoneCallerInfo, Depends(phone_caller)]
PhoneStreamCaller = Annotated[PhoneCallerInfo, Depends(stream_caller)]


def get_supervisee(*, session: Session, supervisee_id: int) -> Supervisee:
    """The signed-in person (their session was checked: they exist and are active)."""
    return session.get(Supervisee, supervisee_id)
