"""Times are stored in UTC and shown in the display time zone (Asia/Shanghai by default)."""

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator

from core.config import get_settings


def utcnow() -> datetime:
    return datetime.now(UTC)


# The times the APIs accept. Beyond them no supervision record means anything, and arithmetic on
# them (a window of 30 days before year 1, a shift to UTC past year 9999) overflows.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def plausible(value: datetime) -> datetime:
    try:
        within = EARLIEST <= (value if value.tzinfo else value.replace(tzinfo=UTC)) <= LATEST
    except OverflowError:
        within = False
    if not within:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


Moment = Annotated[datetime, AfterValidator(plausible)]


def display_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().display_tz)


def to_display(ts: datetime | None) -> str:
    """Format a stored UTC time for an officer, in local time."""
    if ts is None:
        return ""
    return ts.astimezone(display_tz()).strftime("%Y-%m-%d %H:%M:%S")
