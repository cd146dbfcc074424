"""What every device protocol is parsed into, before the shared validation and normalisation."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ProtocolError(ValueError):
    """The request cannot be understood; the message tells the device owner what is wrong."""


@dataclass
class RawFix:
    """One position report as the device sent it, units already converted to ewall's
    (metres, metres per second, degrees, percent), times as aware UTC datetimes.

    ``lat``/``lon`` may be None for a report that carries only cell or wifi data (kept for
    later network positioning); ``ts`` None means "now" (the protocol allows omitting it).
    """

    device_key: str | None = None  # the identifier the device presents (OsmAnd id/deviceid, OwnTracks user/device)
    token: str | None = None  # an explicit secret, when the protocol carries one
    ts: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    altitude_m: float | None = None
    battery_pct: int | None = None
    datum: str | None = None  # "wgs84" | "gcj02" | "bd09"; None: the device's registered default
    source: str = "gps"  # "gps" | "network" | "lbs"
    radio: dict[str, Any] = field(default_factory=dict)  # cell towers / wifi access points, as sent
