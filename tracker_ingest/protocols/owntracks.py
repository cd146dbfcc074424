"""OwnTracks in HTTP mode: the app POSTs the same JSON messages it would publish over MQTT.

Supporting it lets a supervisee use the open-source OwnTracks app (iOS and Android) instead of a
dedicated tracker. Only ``_type: "location"`` is a position report; the app also posts waypoints,
transitions, last-will messages and others to the same endpoint, and those must be accepted (the app
treats only a 2xx answer as delivered and keeps re-sending the rest) but are not fixes.

Field names and units follow the OwnTracks booklet (docs/tech/json.md) and Traccar's
``OwnTracksProtocolDecoder``: ``tst`` epoch seconds, ``acc``/``alt`` metres, ``vel`` km/h, ``cog``
degrees, ``batt`` percent. Who is reporting comes from the authenticated request (basic-auth user or
the ``X-Limit-U``/``X-Limit-D`` headers), never from the body, so the app extracts it and passes it in.
"""

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from tracker_ingest.protocols.common import ProtocolError, RawFix

KMH_TO_MPS = 1 / 3.6

# Message types the apps send that carry no fix. Listed so a reader sees they were considered; any
# other type is ignored the same way, since new app versions add types.
IGNORED_TYPES = frozenset(
    {
        # A region enter/leave carries lat/lon/tst too, but it is an event about a waypoint, not a fix;
        # the apps also send a location message (trigger "c" or "b") for the same moment.
        "transition",
        "waypoint",
        "waypoints",
        "lwt",
        "card",
        "status",
        "steps",
        "beacon",
        "cmd",
        # Payload encryption is not supported: the sealed location cannot be read here.
        "encrypted",
        "configuration",
        "dump",
    }
)

_EPOCH_START = datetime(1970, 1, 1, tzinfo=UTC)


def parse(payload: Any, *, user: str | None, device: str | None) -> RawFix | None:
    """Parse one OwnTracks HTTP payload.

    Returns a :class:`RawFix` for a location message and None for anything that is accepted but is
    not a fix (other message types, an empty body). Raises :class:`ProtocolError` for a payload that
    is not an OwnTracks message or a location message that lacks lat, lon or tst.
    """
    if payload is None or payload == {}:
        return None
    if not isinstance(payload, dict):
        raise ProtocolError(f"an OwnTracks message must be a JSON object, got {type(payload).__name__}")
    message_type = payload.get("_type")
    if message_type is None:
        raise ProtocolError("not an OwnTracks message: _type is missing")
    if message_type != "location":
        return None

    missing = [key for key in ("lat", "lon", "tst") if payload.get(key) is None]
    if missing:
        raise ProtocolError(f"location message without {', '.join(missing)}")

    try:
        ts = _EPOCH_START + timedelta(seconds=_number(payload, "tst") or 0.0)
    except OverflowError:
        raise ProtocolError(f"tst is not an epoch time in seconds: {_show(payload['tst'])}") from None

    fix = RawFix(
        device_key=_device_key(user, device),
        ts=ts,
        lat=_number(payload, "lat"),
        lon=_number(payload, "lon"),
        # The apps omit acc/alt/vel/cog when unknown (iOS when negative); a negative value still
        # means "unknown", not a measurement.
        accuracy_m=_non_negative(_number(payload, "acc")),
        altitude_m=_number(payload, "alt"),
        heading_deg=_non_negative(_number(payload, "cog")),
    )
    velocity_kmh = _non_negative(_number(payload, "vel"))
    if velocity_kmh is not None:
        fix.speed_mps = velocity_kmh * KMH_TO_MPS
    battery = _non_negative(_number(payload, "batt"))
    if battery is not None:
        fix.battery_pct = round(battery)
    # tid, t (trigger), conn, topic, inregions, SSID, created_at...: informational, not part of a fix.
    return fix


def _device_key(user: str | None, device: str | None) -> str | None:
    user = (user or "").strip() or None
    device = (device or "").strip() or None
    if user and device:
        return f"{user}/{device}"  # the Recorder's user/device naming
    return user or device


def _number(payload: dict[str, Any], key: str) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        # Android before 0.5.11 and iOS before 8.0 sent numbers as strings.
        value = value.strip()
    elif not isinstance(value, int | float) or isinstance(value, bool):
        raise ProtocolError(f"{key} is not a number: {_show(value)}")
    try:
        number = float(value)
    except (ValueError, OverflowError):  # "abc"; an integer too large for a float
        raise ProtocolError(f"{key} is not a number: {_show(value)}") from None
    if not math.isfinite(number):
        raise ProtocolError(f"{key} is not a finite number: {_show(value)}")
    return number


def _non_negative(value: float | None) -> float | None:
    return value if value is not None and value >= 0 else None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
