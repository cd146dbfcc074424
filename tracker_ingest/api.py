"""Device-facing ingest routes: the native batch API and camera sightings."""

from dataclasses import dataclass
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import State

from caseload.sources import CameraIdentity, DeviceIdentity, GatewayIdentity
from core.bus import BrokerUnavailable
from core.cache import DirectoryUnavailable, TtlCache
from core.config import get_settings
from tracker_ingest import service, sightings, validation
from tracker_ingest.schemas import BatchResult, NativeFix

router = APIRouter()
bearer = HTTPBearer(auto_error=False)
RETRY_AFTER_S = "5"
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
# A malformed body says why (ErrorOut); a batch whose every record was rejected says so per record.
BATCH_REFUSED = {
    "description": "malformed body, or every record rejected",
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [{"$ref": "#/components/schemas/BatchResult"}, {"$ref": "#/components/schemas/ErrorOut"}]
            }
        }
    },
}


def directory_down(exc: DirectoryUnavailable) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"{exc}; nothing was stored, retry later",
        headers={"Retry-After": RETRY_AFTER_S},
    )


@dataclass(frozen=True)
class Caller:
    """Where a request comes from, and that address's failed sign-ins in this process."""

    failures: service.FailedSignIns
    address: str | None

    @classmethod
    def of(cls, state: State, client: tuple | None) -> "Caller":
        return cls(state.failed_sign_ins, client[0] if client else None)

    def may_look_up(self) -> None:
        """429 (Retry-After) when this address failed too often to be given uncached lookups."""
        if (wait_s := self.failures.wait_s(self.address)) is not None:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"too many failed sign-ins from this address; retry in {wait_s} s",
                headers={"Retry-After": str(wait_s)},
            )

    def failed(self) -> None:
        self.failures.failed(self.address)


async def cached(cache: TtlCache, key, caller: Caller | None = None):
    """A cache hit without leaving the event loop; a miss goes to the database on a worker thread
    (when ``caller``, a sender authenticating, may still have lookups). 503 (Retry-After) when the
    database is unreachable and nothing cached answers for ``key``."""
    found, value = cache.cached(key)
    if found:
        return value
    if caller is not None:
        caller.may_look_up()
    return await _from_database(cache.get, key)


async def cached_many(cache: TtlCache, keys: set) -> dict:
    """``cached`` for many keys: all hits stay on the event loop, any misses go in one query."""
    answers, complete = cache.cached_many(keys)
    if complete:
        return answers
    return await _from_database(cache.get_many, keys)


async def _from_database(lookup, keys):
    try:
        return await run_in_threadpool(lookup, keys)
    except DirectoryUnavailable as exc:
        raise directory_down(exc) from exc


async def first_known(*lookups: tuple[TtlCache, object], caller: Caller | None = None):
    """The first lookup that finds something, else None; 503 only if none found anything and one of
    them could not be checked (a cached gateway is still accepted when the device cache cannot answer)."""
    unavailable: HTTPException | None = None
    for cache, key in lookups:
        try:
            if (found := await cached(cache, key, caller)) is not None:
                return found
        except HTTPException as exc:
            if exc.status_code != status.HTTP_503_SERVICE_UNAVAILABLE:
                raise
            unavailable = exc
    if unavailable is not None:
        raise unavailable
    return None


def directory(request: Request) -> service.Directory:
    return request.app.state.directory


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def sender_auth(request: Request, credentials: Bearer) -> DeviceIdentity | GatewayIdentity:
    """A device token (the device's own fixes) or a gateway token (fixes of its district's devices)."""
    if credentials is None:
        raise _unauthorized("missing 'Authorization: Bearer <device or gateway token>'")
    token = credentials.credentials
    caller = Caller.of(request.app.state, request.client)
    sender = await first_known((directory(request).devices, token), (directory(request).gateways, token), caller=caller)
    if sender is None:
        caller.failed()
        raise _unauthorized("unknown or deactivated token; ask the officer to register the device or gateway")
    return sender


async def camera_auth(request: Request, credentials: Bearer) -> CameraIdentity:
    if credentials is None:
        raise _unauthorized("missing 'Authorization: Bearer <camera token>'")
    caller = Caller.of(request.app.state, request.client)
    camera = await cached(directory(request).cameras, credentials.credentials, caller)
    if camera is None:
        caller.failed()
        raise _unauthorized("unknown or deactivated camera token; register the camera in the portal")
    return camera


def broker_down(exc: BrokerUnavailable) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"positions cannot be queued right now ({exc}); nothing was stored, retry later",
        headers={"Retry-After": RETRY_AFTER_S},
    )


async def queue(state: State, batch: validation.Batch) -> None:
    """Publish accepted fixes; the caller answers only after this returns."""
    if not batch.accepted:
        return
    try:
        await state.funnel.submit(batch)
    except BrokerUnavailable as exc:
        raise broker_down(exc) from exc


async def json_list(request: Request, field: str) -> list:
    """The body's ``{field: [...]}`` list, or a 4xx saying what is wrong with the body."""
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise HTTPException(422, detail=f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get(field), list):
        raise HTTPException(422, detail=f'body must be an object {{"{field}": [...]}}')
    items = payload[field]
    if len(items) > get_settings().max_batch_fixes:
        raise HTTPException(413, detail=f"at most {get_settings().max_batch_fixes} records per request; split it")
    return items


def batch_answer(batch: validation.Batch) -> JSONResponse:
    result = BatchResult(accepted=batch.accepted, rejected=batch.rejected)
    return JSONResponse(result.model_dump(), status_code=422 if batch.rejected and not batch.accepted else 202)


@router.post(
    "/api/v1/fixes",
    status_code=202,
    response_model=BatchResult,
    # Read and checked record by record (see json_list), but declared so that clients and the fuzzer see it.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["fixes"],
                        "properties": {"fixes": {"type": "array", "items": NativeFix.model_json_schema()}},
                    }
                }
            },
        }
    },
    responses={422: BATCH_REFUSED, 503: {"description": "broker unavailable; retry after Retry-After seconds"}},
)
async def post_fixes(request: Request, sender: Annotated[DeviceIdentity | GatewayIdentity, Depends(sender_auth)]):
    """Native batch of up to 10,000 fixes. Accepted fixes are acknowledged by the broker before the answer."""
    raw_fixes = await json_list(request, "fixes")
    named = {d for r in raw_fixes if isinstance(r, dict) and isinstance(d := r.get("device_id"), str)}
    if isinstance(sender, DeviceIdentity):
        devices = {None: sender} | {
            name: sender if sender.named_by(name) else f"device_id '{name}' does not match the token's device"
            for name in named
        }
    else:
        devices = {None: "device_id: required when posting through a gateway"}
        found = await cached_many(directory(request).gateway_devices, {(sender.district_ids, name) for name in named})
        for name in named:
            device = found[(sender.district_ids, name)]
            devices[name] = device or f"device_id '{name}' is not a registered device of this gateway's district"
    batch = validation.validate_native(raw_fixes, devices=devices, settings=get_settings())
    await queue(request.app.state, batch)
    return batch_answer(batch)


@router.post(
    "/api/v1/sightings",
    status_code=202,
    response_model=BatchResult,
    responses={422: BATCH_REFUSED},
)
async def post_sightings(request: Request, camera: Annotated[CameraIdentity, Depends(camera_auth)]):
    """CCTV sightings and office check-ins; a confident match becomes a fix at the camera's position."""
    raw = await json_list(request, "sightings")
    codes = {c for r in raw if isinstance(r, dict) and isinstance(c := r.get("person_code"), str)}
    people = {code: await cached(directory(request).people, (camera.district_ids, code)) for code in codes}
    checked = sightings.validate(raw, camera=camera, people=people, settings=get_settings())
    try:
        if checked.sightings:
            await service.publish_sightings(request.app.state.publisher, checked.sightings)
    except BrokerUnavailable as exc:
        raise broker_down(exc) from exc
    await queue(request.app.state, checked.fixes)
    return JSONResponse(
        BatchResult(accepted=len(checked.sightings), rejected=checked.rejected).model_dump(),
        status_code=422 if checked.rejected and not checked.sightings else 202,
    )
