"""The OsmAnd / Traccar Client HTTP protocol (Traccar's "osmand" protocol, port 5055).

Phones running Traccar Client, OsmAnd's live-tracking plugin, GPSLogger and many cheap trackers speak
it, so supporting it lets a supervisee's existing app report to ewall without a custom client. Two
request shapes exist and both follow Traccar's ``OsmAndProtocolDecoder``:

* query string / form fields: ``?id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0...``
  (``speed`` is in knots here, because that is what Traccar Client has always sent);
* the newer Traccar Client's JSON body (the transistorsoft background-geolocation ``location``
  template): ``{"device_id": "...", "location": {"timestamp": "...Z", "coords": {...}, "battery": {...}}}``
  (``coords.speed`` is in metres per second there, and ``-1`` marks an unknown value).

This module only turns a request into a :class:`RawFix`; range checks, authentication and storage are
the caller's job, shared by every protocol.
"""

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

from tracker_ingest.protocols.common import ProtocolError, RawFix

# Traccar parses zone-less times in the server's zone; ewall's devices are configured in China time.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

KNOTS_TO_MPS = 0.514444
# Epoch values above this are milliseconds: 10^11 s is the year 5138, 10^11 ms is March 1973.
MS_THRESHOLD = 10**11
# Without a reported accuracy, a metre figure is still needed for geofence decisions; 5 m per unit of
# HDOP is the usual rule of thumb for consumer GNSS (user-equivalent range error of roughly 5 m).
HDOP_TO_METRES = 5.0

# ASCII-only on purpose: float() would also take "nan", "inf", "1_000" and non-Latin digits.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_EPOCH = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
# "2014-06-04+09:10:11": a form-encoded space that reached us still encoded.
_PLUS_FOR_SPACE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\+([0-9]{2}:)")
# "2016-01-27T18:55:47 08:00": an unencoded "+08:00" offset that form decoding turned into a space.
_SPACE_FOR_PLUS = re.compile(r"(T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?) ([0-9]{2}:?[0-9]{2})$")

_EPOCH_START = datetime(1970, 1, 1, tzinfo=UTC)


Params = Mapping[str, Any] | Iterable[tuple[str, str]]
# Each parameter's non-blank values, stripped, in order (Traccar also skips empty values).
Fields = dict[str, list[str]]


def parse(params: Params, json_body: Any | None = None) -> RawFix:
    """Parse one OsmAnd request.

    ``params`` is the query string merged with any form fields: (name, value) pairs, a multi-dict
    (Starlette's ``QueryParams``/``FormData``) or a plain mapping whose values may be lists, because
    ``cell`` and ``wifi`` may repeat. ``json_body`` is the decoded JSON body when the request had one.
    Raises :class:`ProtocolError` with a message for the device owner when the request cannot be
    understood.
    """
    fields = _fields(params)
    if json_body is not None:
        return _parse_json(fields, json_body)
    return _parse_query(fields)


def _fields(params: Params) -> Fields:
    """Collected once per request: each lookup afterwards is a dict access."""
    if hasattr(params, "multi_items"):
        pairs = params.multi_items()
    elif isinstance(params, Mapping):
        pairs = [
            (key, value)
            for key, values in params.items()
            for value in (values if isinstance(values, list | tuple) else [values])
        ]
    else:
        pairs = params
    fields: Fields = {}
    for key, value in pairs:
        text = str(value).strip()
        if text:
            fields.setdefault(key, []).append(text)
    return fields


# --- query string / form -------------------------------------------------------------------------


def _parse_query(fields: Fields) -> RawFix:
    fix = RawFix(
        device_key=_device_key(fields),
        token=_first(fields, "token"),
        ts=_timestamp(fields),
        datum=_datum(fields),
    )
    if fix.device_key is None:
        raise ProtocolError("missing device identifier: send id=<device id>")

    fix.lat, fix.lon = _query_position(fields)
    radio = _radio(fields)
    if radio:
        # Kept alongside a GPS position too, as Traccar does.
        fix.radio = radio
    if fix.lat is None:
        if not radio:
            raise ProtocolError("no position: send lat and lon (or location=lat,lon)")
        # Cell/wifi only: stored for later network positioning.
        fix.source = "lbs"

    speed_knots = _optional_float(fields, "speed")
    if speed_knots is not None and speed_knots >= 0:
        fix.speed_mps = speed_knots * KNOTS_TO_MPS
    heading_key = "bearing" if _first(fields, "bearing") is not None else "heading"
    fix.heading_deg = _non_negative(_optional_float(fields, heading_key))
    fix.altitude_m = _optional_float(fields, "altitude")

    accuracy_key = "accuracy" if _first(fields, "accuracy") is not None else "hacc"
    fix.accuracy_m = _non_negative(_optional_float(fields, accuracy_key))
    hdop = _optional_float(fields, "hdop")
    if fix.accuracy_m is None and hdop is not None and hdop > 0:
        # Only an estimate (see HDOP_TO_METRES); a real accuracy always wins. HDOP 0 means "unknown".
        fix.accuracy_m = hdop * HDOP_TO_METRES

    battery = _optional_float(fields, "batt")
    if battery is not None and battery >= 0:
        # Traccar Client sends a double ("87.0").
        fix.battery_pct = round(battery)
    return fix


def _device_key(fields: Fields) -> str | None:
    return _first(fields, "id") or _first(fields, "deviceid")


def _datum(fields: Fields) -> str | None:
    datum = _first(fields, "datum")
    return datum.lower() if datum is not None else None


def _timestamp(fields: Fields) -> datetime | None:
    for key in ("timestamp", "time"):
        value = _first(fields, key)
        if value is not None:
            return _parse_time(key, value)
    return None  # the caller uses the arrival time


def _query_position(fields: Fields) -> tuple[float | None, float | None]:
    lat = _optional_float(fields, "lat")
    lon = _optional_float(fields, "lon")
    if lat is not None and lon is not None:
        return lat, lon
    if lat is not None or lon is not None:
        missing = "lon" if lon is None else "lat"
        raise ProtocolError(f"half a position: {missing} is missing; send both lat and lon")
    location = _first(fields, "location")
    if location is None:
        return None, None
    parts = location.split(",")
    if len(parts) != 2:
        raise ProtocolError(f"location must be lat,lon, got {_show(location)}")
    return _float("location", parts[0].strip()), _float("location", parts[1].strip())


def _radio(fields: Fields) -> dict[str, Any]:
    cells = [_cell(value) for value in _all(fields, "cell")]
    wifis = [_wifi(value) for value in _all(fields, "wifi")]
    if not cells and not wifis:
        return {}
    return {"cell": cells, "wifi": wifis}


def _cell(value: str) -> dict[str, int]:
    # Traccar: cell=mcc,mnc,lac,cid[,signal]; anything past the fifth field is ignored, as there.
    parts = [part.strip() for part in value.split(",")]
    if len(parts) < 4:
        raise ProtocolError(f"cell must be mcc,mnc,lac,cid[,signal], got {_show(value)}")
    names = ("mcc", "mnc", "lac", "cid", "signal")
    return {name: _int("cell", part) for name, part in zip(names, parts[:5], strict=False)}


def _wifi(value: str) -> dict[str, Any]:
    parts = [part.strip() for part in value.split(",")]
    if len(parts) < 2 or not parts[0]:
        raise ProtocolError(f"wifi must be mac,rssi, got {_show(value)}")
    # Traccar accepts 00-14-22-01-23-45 and stores 00:14:22:01:23:45.
    return {"mac": parts[0].replace("-", ":"), "rssi": _int("wifi", parts[1])}


# --- JSON body (Traccar Client 9+) ---------------------------------------------------------------


def _parse_json(fields: Fields, body: Any) -> RawFix:
    if not isinstance(body, dict):
        raise ProtocolError("the JSON body must be an object with device_id and location")
    device_key = body.get("device_id")
    if isinstance(device_key, int) and not isinstance(device_key, bool):
        device_key = str(device_key)
    if device_key is not None and not isinstance(device_key, str):
        raise ProtocolError(f"device_id must be a string, got {_show(device_key)}")
    device_key = (device_key or "").strip() or _device_key(fields)
    if device_key is None:
        raise ProtocolError("missing device identifier: send id=<device id>")

    location = body.get("location")
    if isinstance(location, list):
        # transistorsoft's batchSync mode; Traccar Client never enables it and Traccar rejects it too.
        raise ProtocolError("one location per request: turn off batch sync")
    if not isinstance(location, dict):
        raise ProtocolError("the JSON body has no location object")

    fix = RawFix(device_key=device_key, token=_first(fields, "token"), datum=_datum(fields))
    timestamp = location.get("timestamp")
    if timestamp is not None:
        fix.ts = _parse_time("location.timestamp", timestamp)

    coords = location.get("coords")
    if coords is not None and not isinstance(coords, dict):
        raise ProtocolError(f"location.coords must be an object, got {_show(coords)}")
    coords = coords or {}
    fix.lat = _json_float(coords, "latitude")
    fix.lon = _json_float(coords, "longitude")
    if fix.lat is None or fix.lon is None:
        raise ProtocolError("no position: location.coords needs latitude and longitude")
    # -1 is the library's "unknown" for speed, heading and accuracy.
    fix.speed_mps = _non_negative(_json_float(coords, "speed"))
    fix.heading_deg = _non_negative(_json_float(coords, "heading"))
    fix.accuracy_m = _non_negative(_json_float(coords, "accuracy"))
    fix.altitude_m = _json_float(coords, "altitude")

    battery = location.get("battery")
    if isinstance(battery, dict):
        level = _json_float(battery, "level", "location.battery")
        if level is not None and level >= 0:
            # A fraction 0..1; round, because 0.29 * 100 is 28.999999999999996.
            fix.battery_pct = round(level * 100)
    # is_moving, odometer, event, activity, mock and extras have no RawFix field: ignored.
    return fix


def _json_float(obj: Mapping[str, Any], key: str, where: str = "location.coords") -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    name = f"{where}.{key}"
    if isinstance(value, bool):
        raise ProtocolError(f"{name} is not a number: {_show(value)}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ProtocolError(f"{name} is not a finite number: {_show(value)}")
        return float(value)
    if isinstance(value, str):
        return _float(name, value.strip())
    raise ProtocolError(f"{name} is not a number: {_show(value)}")


# --- shared helpers ------------------------------------------------------------------------------


def _parse_time(name: str, value: Any) -> datetime:
    """Epoch seconds or milliseconds, ISO-8601, or ``yyyy-MM-dd HH:mm:ss`` China time → aware UTC."""
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            return _from_epoch(value)
        if not isinstance(value, str):
            raise ValueError
        text = value.strip()
        if "%" in text:
            text = unquote_plus(text)  # arrived still percent-encoded
        if _EPOCH.fullmatch(text):
            return _from_epoch(int(text) if _INTEGER.fullmatch(text) else float(text))
        text = _PLUS_FOR_SPACE.sub(r"\1 \2", text)
        text = _SPACE_FOR_PLUS.sub(r"\1+\2", text)
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=LOCAL_TZ)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise ProtocolError(
            f"{name} is not a time: {_show(value)} (send epoch seconds, ISO-8601 or yyyy-MM-dd HH:mm:ss)"
        ) from None


def _from_epoch(value: float) -> datetime:
    if not math.isfinite(value):
        raise ValueError
    if abs(value) > MS_THRESHOLD:
        # timedelta keeps an integer millisecond count exact, unlike a float division.
        return _EPOCH_START + timedelta(milliseconds=value)
    return _EPOCH_START + timedelta(seconds=value)


def _first(fields: Fields, key: str) -> str | None:
    values = fields.get(key)
    return values[0] if values else None


def _all(fields: Fields, key: str) -> list[str]:
    return fields.get(key, [])


def _optional_float(fields: Fields, key: str) -> float | None:
    value = _first(fields, key)
    return None if value is None else _float(key, value)


def _float(name: str, value: str) -> float:
    if not _NUMBER.fullmatch(value):
        raise ProtocolError(f"{name} is not a number: {_show(value)}")
    number = float(value)
    if not math.isfinite(number):  # "1e999"
        raise ProtocolError(f"{name} is not a finite number: {_show(value)}")
    return number


def _int(name: str, value: str) -> int:
    # 18 digits fit the wire's int64; Python would not even read 4,300 of them (a ValueError).
    if not _INTEGER.fullmatch(value) or len(value.lstrip("+-")) > 18:
        raise ProtocolError(f"{name} has a non-integer field: {_show(value)}")
    return int(value)


def _non_negative(value: float | None) -> float | None:
    return value if value is not None and value >= 0 else None


def _show(value: Any) -> str:
    """The offending value, quoted and cut short so an error message stays readable."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
