"""What both ASGI apps share: the request-scoped session, JSON errors with reasons, liveness,
readiness and the process's heartbeat."""

import asyncio
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import health
from core.db import new_session
from core.errors import DomainError
from core.heartbeat import Heartbeat


def get_session() -> Iterator[Session]:
    """One session per request; write handlers commit explicitly, anything uncommitted rolls back."""
    session = new_session()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint the service did not pre-check (a race, usually): say which one.
        reason = str(exc.orig).splitlines()[0] if exc.orig else "constraint violated"
        return JSONResponse({"detail": f"conflicts with existing data: {reason}"}, status_code=409)

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
