"""The law's limits on electronic monitoring (社区矫正法 art. 29), as plain rules on dates.

A period runs from its first day to its last day inclusive, in the display time zone. Months are
counted as 民法典 arts. 201-202 count them: the first day is not counted, and the period ends on the
corresponding day of the last month, or that month's last day when it has none (30 Nov + 3 months
is 28 Feb, or 29 Feb in a leap year). So a period may last until ``starts_on + 3 months``, and a
renewal until its predecessor's last day + 3 months."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

MAX_MONTHS = 3


class PeriodLike(Protocol):
    id: int
    starts_on: date
    ends_on: date
    released_at: datetime | None


def latest_last_day(counted_from: date) -> date:
    """The latest last day of a period counted from this day (the start, or the previous end)."""
    return counted_from + relativedelta(months=MAX_MONTHS)


def begins_at(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz)


def window(period: PeriodLike, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """When a period is in force: from its first day's start to its last day's end, or its release
    if earlier (a period released before it began is an empty window)."""
    start, end = begins_at(period.starts_on, tz), begins_at(period.ends_on + timedelta(days=1), tz)
    if period.released_at is not None:
        end = max(start, min(end, period.released_at))
    return start, end


@dataclass(frozen=True)
class Current:
    """The period in force and how long monitoring goes on: until the last day of the renewals
    already approved after it."""

    period_id: int
    starts_on: date
    ends_on: date
    days_left: int


def current(periods: Iterable[PeriodLike], now: datetime, tz: ZoneInfo) -> Current | None:
    """The period in force at ``now``, with the chain of renewals that follows it, or None."""
    ordered = sorted(periods, key=lambda p: p.starts_on)
    for i, period in enumerate(ordered):
        start, end = window(period, tz)
        if not start <= now < end:
            continue
        last = period
        for following in ordered[i + 1 :]:
            if following.starts_on != last.ends_on + timedelta(days=1) or following.released_at is not None:
                break
            last = following
        return Current(period.id, period.starts_on, last.ends_on, (last.ends_on - now.astimezone(tz).date()).days)
    return None
