"""What both ASGI apps share: the request-scoped session, JSON errors with reasons, the body-size
cap, paging of lists, liveness, readiness, the process's heartbeat, security headers and the API docs
page."""

import asyncio
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import health
from core.db import new_session
from core.errors import DomainError, first_line
from core.heartbeat import Heartbeat


def get_session() -> Iterator[Session]:
    """One session per request; write handlers commit explicitly, anything uncommitted rolls back."""
    session = new_session()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]

# Beyond this an offset is no paging but a probe (and overflows the database's bigint).
MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def paged(*, default: int, maximum: int):
    """``limit`` (1..maximum, a larger one is a 422 naming the maximum) and ``offset`` query parameters."""

    def page(
        limit: Annotated[int, Query(ge=1, le=maximum, description=f"at most {maximum} per page")] = default,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many to skip")] = 0,
    ) -> Page:
        return Page(limit=limit, offset=offset)

    return Annotated[Page, Depends(page)]


# The usual page of a staff list: a district's officers, cameras, zones, one alert's events.
StaffPage = paged(default=500, maximum=5000)


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int):
        super().__init__(413, detail=f"request body larger than {max_bytes} bytes; send less per request")


class BodySizeLimit:
    """Refuses a body over ``max_bytes`` with 413 naming the limit: at once when Content-Length says so,
    else as soon as the bytes read pass it, so a huge or endless (chunked) body is never read whole.
    (FastAPI's own max_body_size answers a declared oversize with a plain-text "Content Too Large"
    that names no limit, replacing whatever the app answered.)"""

    def __init__(self, app: ASGIApp, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, BodyTooLarge(self.max_bytes))
            return
        read, started = 0, False

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)  # the app's exception handlers answer it
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:
            if started:
                raise
            await _refuse(send, exc)


async def _refuse(send: Send, exc: HTTPException) -> None:
    body = orjson.dumps({"detail": exc.detail})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FieldError(BaseModel):
    field: str
    reason: str
    type: str


class ErrorOut(BaseModel):
    """Every error answer: the reason, or for invalid input the reason for each field."""

    detail: str | list[FieldError]


def document_errors(app: FastAPI, errors: dict[int, str]) -> None:
    """Declares on every operation of ``app`` the errors any of its routes can answer (the codes its
    shared dependencies, handlers and limits produce) with their shape (ErrorOut, also for FastAPI's
    own 422), so that clients and the fuzzer know what to expect. A route's own declaration of a
    code's content stands."""
    generate = app.openapi
    framework_422 = {"$ref": "#/components/schemas/HTTPValidationError"}

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        shape = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components |= shape.pop("$defs") | {"ErrorOut": shape}
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        for operations in schema["paths"].values():
            for operation in operations.values():
                for code, description in errors.items():
                    answer = operation["responses"].setdefault(str(code), {"description": description})
                    declared = answer.get("content", {}).get("application/json", {}).get("schema")
                    if declared is None or declared == framework_422:
                        answer["content"] = error
        return schema

    app.openapi = openapi


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint the service did not pre-check (a race, usually): say which one.
        reason = str(exc.orig).splitlines()[0] if exc.orig else "constraint violated"
        return JSONResponse({"detail": f"conflicts with existing data: {reason}"}, status_code=409)

    @app.exception_handler(DataError)
    async def data_error(_: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold (an id beyond its integers, say) that no bound caught earlier.
        return JSONResponse({"detail": f"a value is out of range: {first_line(exc)}"}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "reason": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)


def install_health_routes(app: FastAPI) -> None:
    """``/health``: the process answers (liveness). ``/ready``: the platform can do its work."""

    @app.get("/health", tags=["ops"])
    def liveness() -> dict:
        """Liveness for the process supervisor."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"description": "not ready, with the reasons"}})
    def readiness() -> JSONResponse:
        """Database, broker, every process's heartbeat and every consumer group's lag; 503 with the reasons."""
        ready, body = health.readiness_report()
        return JSONResponse(body, status_code=200 if ready else 503, headers=None if ready else {"Retry-After": "5"})


async def beat_forever(role: str) -> None:
    """An app's heartbeat, from its event loop: a loop too busy to run this is not healthy either."""
    heartbeat = Heartbeat(role)
    while True:
        await run_in_threadpool(heartbeat.beat)
        await asyncio.sleep(heartbeat.interval_s)


class SecurityHeaders:
    """A Content-Security-Policy with a fresh script nonce on every response, and the headers that
    keep the apps' pages out of other sites' frames and stop content sniffing.

    Scripts run only from the app's own origin or inline with the request's nonce
    (``request.state.csp_nonce``), so markup that slipped past escaping still cannot run script.
    Styles may be inline: Leaflet and folium position everything with style attributes. Plain ASGI
    rather than BaseHTTPMiddleware, which would cost the ingest path a task per request."""

    def __init__(self, app: ASGIApp, *, img_sources: Iterable[str] = ()) -> None:
        self.app = app
        images = " ".join(("'self'", "data:", *img_sources))
        self.policy = (
            "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            f"img-src {images}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'self'"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        headers = [
            # replace, not format: a tile server's host may hold braces of its own.
            (b"content-security-policy", self.policy.replace("{nonce}", nonce).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"SAMEORIGIN"),
            (b"referrer-policy", b"same-origin"),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_nonce(request: Request, html: str) -> str:
    """Inline scripts of generated HTML (folium, Swagger UI) allowed by this response's policy."""
    return html.replace("<script>", f'<script nonce="{request.state.csp_nonce}">')


_SWAGGER_UI = Path(__file__).parent / "static" / "swagger-ui"


def install_api_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the copy shipped in core/static (vendored from npm), not a CDN:
    offices are often off the internet, and the page's policy admits only the app's own scripts.
    Create the app with ``docs_url=None, redoc_url=None``."""
    app.mount("/_docs", StaticFiles(directory=_SWAGGER_UI), name="api-docs-assets")

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} · API",
            swagger_js_url="/_docs/swagger-ui-bundle.js",
            swagger_css_url="/_docs/swagger-ui.css",
            swagger_favicon_url="/_docs/favicon-32x32.png",
        )
        return HTMLResponse(with_nonce(request, page.body.decode()))


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """A raw-ASGI fast path's request body, or None as soon as it passes ``limit`` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def send_json(send: Send, status: int, payload: dict | None = None, headers: dict | None = None) -> None:
    """A raw-ASGI fast path's answer: JSON (or nothing) with the given status and headers."""
    body = orjson.dumps(payload) if payload is not None else b""
    raw_headers = [(b"content-length", str(len(body)).encode())]
    if payload is not None:
        raw_headers.append((b"content-type", b"application/json"))
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
