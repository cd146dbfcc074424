"""What both ASGI apps share: the request-scoped session, JSON errors with reasons, health."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import new_session
from core.errors import DomainError


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
