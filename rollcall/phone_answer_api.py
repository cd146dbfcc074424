"""The phone page's answer to a roll call: ``POST /api/v1/phone/rollcalls/{target_id}/answer``.

Thousands of people answer within the same minutes, so the documented FastAPI route and a raw-ASGI
fast path (``PhoneAnswerFastPath``, in front of the portal app, like tracker_ingest.fastpath) share
``answer``: check the phone token, the body and the photo, then hand the answer to the batching
writer (rollcall.answer_funnel) and reply once it is committed."""

import base64
import binascii
import re
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from core.db import is_unreachable
from core.security import InvalidToken, decode_phone_token
from core.timezones import utcnow
from rollcall import photos
from rollcall.answer_funnel import AnswerFunnel
from rollcall.answers import PhoneAnswer
from rollcall.config import get_rollcall_settings
from rollcall.models import TargetStatus

PHONE_COOKIE = "ewall_phone"
PATH = re.compile(r"/api/v1/phone/rollcalls/(\d{1,18})/answer")
# How far the phone's own clock (``ts``) may be from ours before the answer is refused.
CLOCK_SKEW = timedelta(minutes=10)

router = APIRouter(tags=["phone page"])


class PhoneAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: Annotated[float, Field(ge=-90, le=90, description="WGS-84, as navigator.geolocation gives it")]
    lon: Annotated[float, Field(ge=-180, le=180)]
    accuracy_m: Annotated[float, Field(gt=0, le=100_000, description="the geolocation's accuracy (metres)")]
    photo: Annotated[str, Field(min_length=1, description="the photo taken to answer, base64 (JPEG, PNG or WebP)")]
    photo_type: Literal["image/jpeg", "image/png", "image/webp"] = "image/jpeg"
    ts: datetime | None = Field(None, description="when the position was taken, by the phone's clock")


class PhoneAnswerOut(BaseModel):
    status: TargetStatus  # answered (on time), late, or missed (the roll call had closed)
    answered_at: datetime
    separated: bool | None  # 人机分离: the answer far from the tracker (null: no tracker fix to compare)


class Rejected(Exception):
    def __init__(self, status_code: int, detail, headers: dict | None = None):
        self.status_code, self.detail, self.headers = status_code, detail, headers or {}


def _caller(headers: dict[bytes, bytes]):
    """The phone session's claims from the bearer token or the ``ewall_phone`` cookie; 401 otherwise."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    if token is None and b"cookie" in headers:
        try:
            morsel = SimpleCookie(headers[b"cookie"].decode("latin-1")).get(PHONE_COOKIE)
        except CookieError:
            morsel = None
        token = morsel.value if morsel else None
    if not token:
        raise Rejected(401, "not signed in to the phone page: open the link or code from your officer")
    try:
        return decode_phone_token(token)
    except InvalidToken as exc:
        raise Rejected(401, "the phone page's sign-in is invalid or expired: ask your officer for a new link") from exc


def _same_origin(headers: dict[bytes, bytes], scheme: str) -> None:
    origin = headers.get(b"origin")
    if origin is not None and origin.decode("latin-1") != f"{scheme}://{headers.get(b'host', b'').decode('latin-1')}":
        raise Rejected(403, f"request from another site ({origin.decode('latin-1')}) refused")


def _field_errors(exc: ValidationError) -> list[dict]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"], "type": e["type"]} for e in exc.errors()]


def _photo(encoded: str) -> tuple[bytes, str]:
    settings = get_rollcall_settings()
    if len(encoded) > (settings.photo_max_bytes + 2) // 3 * 4 + 4:
        raise Rejected(413, f"the photo is larger than {settings.photo_max_bytes} bytes: send a smaller one")
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(422, [{"field": "photo", "reason": "not base64", "type": "value_error"}]) from exc
    if len(content) > settings.photo_max_bytes:
        raise Rejected(413, f"the photo is larger than {settings.photo_max_bytes} bytes: send a smaller one")
    content_type = photos.image_type(content)
    if content_type is None:
        reason = "not a JPEG, PNG or WebP image"
        raise Rejected(422, [{"field": "photo", "reason": reason, "type": "value_error"}])
    return content, content_type


def _funnel(state: State) -> AnswerFunnel:
    funnel = getattr(state, "answer_funnel", None)
    if funnel is None:
        funnel = state.answer_funnel = AnswerFunnel(
            state.publisher, linger_s=get_rollcall_settings().answer_linger_ms / 1000
        )
    return funnel


async def answer(state: State, target_id: int, body: bytes, headers: dict[bytes, bytes], scheme: str) -> dict:
    """Check and record one phone answer; returns PhoneAnswerOut's fields or raises Rejected."""
    claims = _caller(headers)
    _same_origin(headers, scheme)
    try:
        given = PhoneAnswerIn.model_validate_json(body)
    except ValidationError as exc:
        raise Rejected(422, _field_errors(exc)) from exc
    content, content_type = _photo(given.photo)
    now = utcnow()
    if given.ts is not None and (given.ts.tzinfo is None or abs(given.ts - now) > CLOCK_SKEW):
        reason = f"must be within {CLOCK_SKEW.seconds // 60} minutes of now, with its time zone (the phone's clock?)"
        raise Rejected(422, [{"field": "ts", "reason": reason, "type": "value_error"}])
    asked = PhoneAnswer(
        target_id=target_id,
        supervisee_id=claims.supervisee_id,
        link_id=claims.link_id,
        answered_at=now,
        lat=given.lat,
        lon=given.lon,
        accuracy_m=given.accuracy_m,
        photo=content,
        photo_type=content_type,
        position_at=given.ts,
    )
    try:
        result = await _funnel(state).submit(asked)
    except Exception as exc:
        if is_unreachable(exc):
            raise Rejected(503, "the answer could not be stored just now: try again", {"Retry-After": "5"}) from exc
        raise
    if result.refusal is not None:
        raise Rejected(result.refusal.status_code, result.refusal.detail)
    return {"status": result.status.value, "answered_at": result.answered_at.isoformat(), "separated": result.separated}


@router.post(
    "/phone/rollcalls/{target_id}/answer",
    response_model=PhoneAnswerOut,
    responses={
        401: {"description": "no phone sign-in, or its link was revoked"},
        404: {"description": "not one of the caller's roll calls"},
        409: {"description": "already answered, cancelled, excused, or answered elsewhere (camera, office)"},
        413: {"description": "the photo is too large"},
        422: {"description": "bad fields, or a photo that is not base64 or not an image"},
    },
)
async def answer_roll_call(target_id: int, request: Request) -> JSONResponse:
    """Answer a roll call from the phone page: the browser's position (WGS-84) with its accuracy and a
    photo; replies after the answer is committed (served by PhoneAnswerFastPath in the running app)."""
    headers = {k.lower(): v for k, v in request.headers.raw}
    try:
        payload = await answer(request.app.state, target_id, await request.body(), headers, request.url.scheme)
    except Rejected as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    return JSONResponse(payload)


class PhoneAnswerFastPath:
    """Serves the answer route before the framework (routing, middleware and Request objects cost
    more than the answer's own checks at thousands per second)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = PATH.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        limit = get_rollcall_settings().photo_max_bytes * 4 // 3 + 64 * 1024
        try:
            body = await _body(receive, limit)
            payload = await answer(scope["app"].state, int(matched[1]), body, headers, scope.get("scheme", "http"))
        except Rejected as exc:
            await _reply(send, exc.status_code, {"detail": exc.detail}, exc.headers)
            return
        await _reply(send, 200, payload)


async def _body(receive: Receive, limit: int) -> bytes:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"request body larger than {limit} bytes: send a smaller photo")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _reply(send: Send, status: int, payload: dict, headers: dict | None = None) -> None:
    body = orjson.dumps(payload)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
