"""The phones' hot path, served before FastAPI and Starlette.

A phone posts one fix per request, thousands of phones at once. Measured here, the framework's
per-request work (routing, middleware, Request and Response objects) cost more than parsing,
validating and queueing the fix. This ASGI wrapper sits outside the FastAPI app and answers OsmAnd
GET/POST requests with query or form parameters itself, through the same ``osmand_fix`` the
documented route uses; JSON and multipart bodies, and everything else, go to FastAPI."""

from urllib.parse import parse_qsl

from fastapi import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from core.web import read_body, send_json
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
            body = await read_body(receive, MAX_FORM_BYTES)
            if body is None:
                await send_json(send, 413, {"detail": f"form bodies are limited to {MAX_FORM_BYTES} bytes"})
                return
            pairs += parse_qsl(body.decode("latin-1"))
        try:
            await phone_api.osmand_fix(self.app.state, pairs, None, scope.get("client"))
        except HTTPException as exc:
            await send_json(send, exc.status_code, {"detail": exc.detail}, exc.headers)
            return
        await send_json(send, 200)
