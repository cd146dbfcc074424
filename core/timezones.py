"""Times are stored in UTC and shown in the display time zone (Asia/Shanghai by default)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.config import get_settings


def utcnow() -> datetime:
    return datetime.now(UTC)


def display_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().display_tz)


def to_display(ts: datetime | None) -> str:
    """Format a stored UTC time for an officer, in local time."""
    if ts is None:
        return ""
    return ts.astimezone(display_tz()).strftime("%Y-%m-%d %H:%M:%S")
