"""Routes for the protocols phone tracker apps speak: OsmAnd / Traccar Client and OwnTracks."""

import base64
import binascii
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import State

from caseload.sources import DeviceIdentity
from core.bus import BrokerUnavailable
from core.config import get_settings
from core.timezones import utcnow
from tracker_ingest import service, validation
from tracker_ingest.api import Caller, broker_down, cached, directory, first_known
from tracker_ingest.protocols import osmand, owntracks
from tracker_ingest.protocols.common import ProtocolError, RawFix

router = APIRouter(tags=["device protocols"])


async def _accept(state: State, identity: DeviceIdentity, raw: RawFix) -> None:
    """Validate and queue one parsed fix (or a cell/wifi-only report); 400 with the reason if bad."""
    if raw.lat is None:
        received_us = validation.to_us(utcnow())
        if not identity.monitors(received_us):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=validation.OUTSIDE_MONITORING)
        try:
            await service.publish_radio(state.publisher, identity, raw, received_us)
        except BrokerUnavailable as exc:
            raise broker_down(exc) from exc
        return
    checked = validation.check_protocol_fix(raw, identity, get_settings())
    if isinstance(checked, str):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=checked)
    try:
        await state.funnel.submit_row(checked)
    except BrokerUnavailable as exc:
        raise broker_down(exc) from exc


def _unknown(
    state: State, protocol: str, key: str | None, caller: Caller, detail: str, headers: dict | None = None
) -> HTTPException:
    caller.failed()
    if key:
        state.unknown_devices.note(protocol, key, caller.address)
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers=headers)


async def osmand_fix(state: State, params: osmand.Params, json_body: Any, client: tuple | None) -> None:
    """One OsmAnd report, from its merged query/form parameters or JSON body: authenticate, check,
    queue. Raises HTTPException with the reason when it cannot be accepted."""
    try:
        raw = osmand.parse(params, json_body)
    except ProtocolError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    caller = Caller.of(state, client)
    if raw.token:
        identity = await cached(state.directory.devices, raw.token, caller)
        if identity is not None and raw.device_key is not None and not identity.named_by(raw.device_key):
            identity = None
    else:
        identity = await cached(state.directory.device_keys, raw.device_key, caller)
    if identity is None:
        raise _unknown(
            state,
            "osmand",
            raw.device_key,
            caller,
            f"unknown device id '{raw.device_key}'; an officer must register this device in ewall "
            "(it is now listed under unknown devices)",
        )
    await _accept(state, identity, raw)


@router.api_route("/", methods=["GET", "POST", "PUT"], include_in_schema=False)
@router.api_route(
    "/osmand",
    methods=["GET", "POST", "PUT"],
    responses={
        400: {"description": "the request cannot be understood; the reason is given"},
        401: {"description": "unknown device id or token"},
    },
)
async def osmand_report(request: Request) -> Response:
    """OsmAnd / Traccar Client: query string, form or JSON body. The device id (an ewall-generated,
    long random id) authenticates the device, or a `token` parameter does."""
    params = list(request.query_params.multi_items())
    json_body = None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            json_body = orjson.loads(await request.body() or b"null")
        except orjson.JSONDecodeError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"body is not valid JSON: {exc}") from exc
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        params += list((await request.form()).multi_items())
    await osmand_fix(request.app.state, params, json_body, request.client)
    return Response(status_code=200)


def _basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


@router.post(
    "/owntracks",
    responses={400: {"description": "not an OwnTracks message"}, 401: {"description": "unknown device or wrong token"}},
)
async def owntracks_report(request: Request) -> JSONResponse:
    """OwnTracks HTTP mode: basic auth user = device id, password = device token (or, without a
    password, the X-Limit-U/X-Limit-D headers naming an ewall-generated device id). Answers `[]`."""
    user, device = request.headers.get("x-limit-u"), request.headers.get("x-limit-d")
    credentials = _basic_auth(request)
    caller = Caller.of(request.app.state, request.client)
    identity = None
    if credentials and credentials[1]:
        user = credentials[0]
        identity = await cached(directory(request).devices, credentials[1], caller)
        if identity is not None and not identity.named_by(user):
            identity = None
    else:
        user = credentials[0] if credentials else user
        keys = filter(None, (f"{user}/{device}" if user and device else None, user, device))
        identity = await first_known(*((directory(request).device_keys, key) for key in keys), caller=caller)
    if identity is None:
        raise _unknown(
            request.app.state,
            "owntracks",
            user or device,
            caller,
            "unknown device or wrong token: set the OwnTracks user to the device id and the password "
            "to the device token that the officer was shown",
            {"WWW-Authenticate": 'Basic realm="ewall"'},
        )
    body = await request.body()
    if body.strip():
        try:
            raw = owntracks.parse(orjson.loads(body), user=user, device=device)
        except (orjson.JSONDecodeError, ProtocolError) as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
        if raw is not None:
            await _accept(request.app.state, identity, raw)
    return JSONResponse([])
