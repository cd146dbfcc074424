"""The phones' hot path, served before FastAPI and Starlette.

A phone posts one fix per request, thousands of phones at once. Measured here, the framework's
per-request work (routing, middleware, Request and Response objects) cost more than parsing,
validating and queueing the fix. This ASGI wrapper sits outside the FastAPI app and answers OsmAnd
GET/POST requests with query or form parameters itself, through the same ``osmand_fix`` the
documented route uses; JSON and multipart bodies, and everything else, go to FastAPI."""

from urllib.parse import parse_qsl

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from tracker_ingest import phone_api

OSMAND_PATHS = frozenset({"/", "/osmand"})
OSMAND_METHODS = frozenset({"GET", "POST", "PUT"})
FORM = b"application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024


class PhoneFastPath:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in OSMAND_PATHS or scope["method"] not in OSMAND_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        if scope["method"] != "GET" and content_type and not content_type.startswith(FORM):
            await self.app(scope, receive, send)  # JSON or multipart: the full framework
            return
        pairs = parse_qsl(scope["query_string"].decode("latin-1"))
        if content_type.startswith(FORM):
            body = await _body(receive)
            if body is None:
                await _answer(send, 413, {"detail": f"form bodies are limited to {MAX_FORM_BYTES} bytes"})
                return
            pairs += parse_qsl(body.decode("latin-1"))
        try:
            await phone_api.osmand_fix(self.app.state, pairs, None, scope.get("client"))
        except HTTPException as exc:
            await _answer(send, exc.status_code, {"detail": exc.detail}, exc.headers)
            return
        await _answer(send, 200)


async def _body(receive: Receive) -> bytes | None:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _answer(send: Send, status: int, payload: dict | None = None, headers: dict | None = None) -> None:
    body = orjson.dumps(payload) if payload is not None else b""
    raw_headers = [(b"content-length", str(len(body)).encode())]
    if payload is not None:
        raw_headers.append((b"content-type", b"application/json"))
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
