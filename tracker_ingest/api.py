"""Device-facing ingest routes."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from caseload.service import DeviceIdentity
from core.bus import BrokerUnavailable
from core.config import get_settings
from tracker_ingest import service
from tracker_ingest.schemas import BatchResult

router = APIRouter()
bearer = HTTPBearer(auto_error=False)
RETRY_AFTER_S = "5"


async def device_auth(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> DeviceIdentity:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing 'Authorization: Bearer <device token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    directory: service.DeviceDirectory = request.app.state.devices
    found, identity = directory.cached(credentials.credentials)
    if not found:
        identity = await run_in_threadpool(directory.lookup, credentials.credentials)
    if identity is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown or deactivated device token; ask the officer to register the device",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return identity


DeviceAuth = Annotated[DeviceIdentity, Depends(device_auth)]


def _broker_down(exc: BrokerUnavailable) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"positions cannot be queued right now ({exc}); nothing was stored, retry later",
        headers={"Retry-After": RETRY_AFTER_S},
    )


@router.post(
    "/api/v1/fixes",
    status_code=202,
    response_model=BatchResult,
    responses={
        422: {"description": "malformed body, or every record rejected"},
        503: {"description": "broker unavailable; retry after Retry-After seconds"},
    },
)
async def post_fixes(request: Request, identity: DeviceAuth):
    """Native batch of fixes. Accepted fixes are acknowledged by the broker before the answer."""
    settings = get_settings()
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(422, detail=f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("fixes"), list):
        raise HTTPException(422, detail='body must be an object {"fixes": [...]}')
    raw_fixes = payload["fixes"]
    if len(raw_fixes) > settings.max_batch_fixes:
        raise HTTPException(413, detail=f"at most {settings.max_batch_fixes} fixes per request; split the batch")
    rows, rejected = service.validate_native_fixes(raw_fixes, identity=identity, settings=settings)
    if rows:
        try:
            await service.publish_fixes(request.app.state.publisher, identity, rows)
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc
    result = BatchResult(accepted=len(rows), rejected=rejected)
    code = 422 if rejected and not rows else 202
    return JSONResponse(result.model_dump(), status_code=code)
