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
from core.timezones import utcnow
from tracker_ingest import service, validation
from tracker_ingest.schemas import BatchResult

router = APIRouter()
bearer = HTTPBearer(auto_error=False)
RETRY_AFTER_S = "5"


async def cached_lookup(cache: service.TtlCache, key: str):
    found, value = cache.cached(key)
    return value if found else await run_in_threadpool(cache.get, key)


async def device_auth(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> DeviceIdentity:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing 'Authorization: Bearer <device token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    identity = await cached_lookup(request.app.state.devices, credentials.credentials)
    if identity is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown or deactivated device token; ask the officer to register the device",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return identity


DeviceAuth = Annotated[DeviceIdentity, Depends(device_auth)]


def broker_down(exc: BrokerUnavailable) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"positions cannot be queued right now ({exc}); nothing was stored, retry later",
        headers={"Retry-After": RETRY_AFTER_S},
    )


async def queue(request: Request, batch: validation.Batch) -> None:
    """Publish accepted fixes; the caller answers only after this returns."""
    if not batch.accepted:
        return
    try:
        await service.publish(request.app.state.publisher, batch, validation.to_us(utcnow()))
    except BrokerUnavailable as exc:
        raise broker_down(exc) from exc


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
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise HTTPException(422, detail=f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("fixes"), list):
        raise HTTPException(422, detail='body must be an object {"fixes": [...]}')
    raw_fixes = payload["fixes"]
    if len(raw_fixes) > settings.max_batch_fixes:
        raise HTTPException(413, detail=f"at most {settings.max_batch_fixes} fixes per request; split the batch")
    devices = {None: identity, identity.external_id: identity}
    batch = validation.validate_native(raw_fixes, devices=_with_mismatch_reason(devices, raw_fixes), settings=settings)
    await queue(request, batch)
    result = BatchResult(accepted=batch.accepted, rejected=batch.rejected)
    return JSONResponse(result.model_dump(), status_code=422 if batch.rejected and not batch.accepted else 202)


def _with_mismatch_reason(devices: dict, raw_fixes: list) -> dict:
    """A device token posts only its own fixes: any other device_id gets a reason."""
    named = {d for r in raw_fixes if isinstance(r, dict) and isinstance(d := r.get("device_id"), str)} - devices.keys()
    return devices | {name: f"device_id '{name}' does not match the token's device" for name in named}
