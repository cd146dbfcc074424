"""The phones' hot path, served before FastAPI's routing and dependency machinery.

A phone posts one fix per request, thousands of phones at once; measured here, FastAPI's per-request
routing and middleware cost more than parsing, validating and queueing the fix. This ASGI wrapper sits
outside the FastAPI app, hands the OsmAnd paths straight to their handler (the same function the
documented route uses) and maps its HTTP errors to the same JSON answers; everything else, lifespan
included, goes to FastAPI."""

from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tracker_ingest import phone_api

OSMAND_PATHS = frozenset({"/", "/osmand"})
OSMAND_METHODS = frozenset({"GET", "POST", "PUT"})


class PhoneFastPath:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in OSMAND_PATHS or scope["method"] not in OSMAND_METHODS:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # what FastAPI would have set: handlers reach app.state through it
        request = Request(scope, receive)
        try:
            response = await phone_api.osmand_report(request)
        except HTTPException as exc:
            response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        await response(scope, receive, send)
