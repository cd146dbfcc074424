"""When a zone is in force: weekly windows in local time (Asia/Shanghai by default) with dated
exceptions, evaluated for whole arrays of fix times.

A schedule is stored as JSON::

    {"weekly": [{"days": [0, 1, 2, 3, 4, 5, 6], "from": "22:00", "to": "06:00"}],
     "exceptions": [{"date": "2026-12-31", "windows": []},
                    {"date": "2027-01-01", "windows": [{"from": "01:00", "to": "06:00"}]}]}

Days are 0 = Monday … 6 = Sunday. A window whose end is not after its start runs past midnight
into the next day ("22:00"–"06:00" is a curfew night); "24:00" ends a window at midnight. A window
belongs to the day it starts on, and an exception replaces the windows that start on its date,
so "no curfew on New Year's Eve" is ``{"date": "2026-12-31", "windows": []}``.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np

MINUTES_PER_DAY = 1440
US_PER_MINUTE = 60_000_000
EPOCH_DAY = date(1970, 1, 1).toordinal()


class ScheduleError(ValueError):
    """The schedule cannot be understood; the message says which part and why."""


def _minute(text: str, where: str) -> int:
    try:
        hours, minutes = text.split(":")
        value = int(hours) * 60 + int(minutes)
    except (AttributeError, ValueError):
        raise ScheduleError(f"{where}: time '{text}' is not HH:MM") from None
    if not (0 <= int(minutes) < 60 and 0 <= value <= MINUTES_PER_DAY):
        raise ScheduleError(f"{where}: time '{text}' is not between 00:00 and 24:00")
    return value


def _window(raw: dict, where: str) -> tuple[int, int]:
    """A window as minutes after the start of its day; the end may reach into the next day."""
    if not isinstance(raw, dict) or "from" not in raw or "to" not in raw:
        raise ScheduleError(f"{where}: a window needs 'from' and 'to' (HH:MM)")
    start, end = _minute(raw["from"], where), _minute(raw["to"], where)
    if start == MINUTES_PER_DAY:
        raise ScheduleError(f"{where}: a window cannot start at 24:00")
    if end <= start:
        end += MINUTES_PER_DAY
    if end == start + MINUTES_PER_DAY and raw["from"] == raw["to"]:
        raise ScheduleError(f"{where}: 'from' and 'to' are equal; for all day write 00:00 to 24:00")
    return start, end


@dataclass(frozen=True)
class Schedule:
    weekly: tuple[tuple[tuple[int, int], ...], ...]  # per weekday, its windows
    exceptions: dict[int, tuple[tuple[int, int], ...]]  # local day number (days since 1970-01-01)
    offset_min: int  # the local time zone's offset from UTC

    @classmethod
    def parse(cls, raw: dict, tz: str = "Asia/Shanghai") -> "Schedule":
        """Check and compile a stored schedule; ScheduleError says what is wrong."""
        if not isinstance(raw, dict) or not set(raw) <= {"weekly", "exceptions"}:
            raise ScheduleError("a schedule is an object with 'weekly' and optionally 'exceptions'")
        weekly: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for n, entry in enumerate(raw.get("weekly") or []):
            where = f"weekly[{n}]"
            days = entry.get("days") if isinstance(entry, dict) else None
            if not isinstance(days, list) or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
                raise ScheduleError(f"{where}: 'days' must list weekdays 0 (Monday) to 6 (Sunday)")
            window = _window(entry, where)
            for day in set(days):
                weekly[day].append(window)
        exceptions = {}
        for n, entry in enumerate(raw.get("exceptions") or []):
            where = f"exceptions[{n}]"
            try:
                day = date.fromisoformat(entry["date"]).toordinal() - EPOCH_DAY
            except (TypeError, KeyError, ValueError):
                raise ScheduleError(f"{where}: 'date' must be YYYY-MM-DD") from None
            windows = entry.get("windows", [])
            if not isinstance(windows, list):
                raise ScheduleError(f"{where}: 'windows' must be a list (empty: not in force that day)")
            exceptions[day] = tuple(_window(w, f"{where}.windows[{k}]") for k, w in enumerate(windows))
        if not any(weekly) and not any(exceptions.values()):
            raise ScheduleError("the schedule has no window at all; leave it out for a zone always in force")
        # Asia/Shanghai keeps one offset all year; a zone with summer time would shift by an hour
        # around its changes, which a schedule of whole nights tolerates.
        offset = ZoneInfo(tz).utcoffset(datetime.now(UTC).replace(tzinfo=None))
        return cls(tuple(tuple(w) for w in weekly), exceptions, int(offset.total_seconds() // 60))

    def _windows(self, day: int) -> tuple[tuple[int, int], ...]:
        if day in self.exceptions:
            return self.exceptions[day]
        return self.weekly[(day + 3) % 7]  # 1970-01-01 was a Thursday

    def in_force(self, ts_us: np.ndarray) -> np.ndarray:
        """Per fix time (µs since the epoch, UTC): is the zone in force then?"""
        local_min = ts_us // US_PER_MINUTE + self.offset_min
        day = local_min // MINUTES_PER_DAY
        result = np.zeros(len(ts_us), dtype=bool)
        # A batch spans a few days at most: gather the windows starting the day before or on each.
        for d in range(int(day.min()), int(day.max()) + 1) if len(day) else ():
            on_day = day == d
            minute = local_min[on_day] - d * MINUTES_PER_DAY
            hit = np.zeros(len(minute), dtype=bool)
            for start, end in self._windows(d):
                hit |= (minute >= start) & (minute < end)
            for start, end in self._windows(d - 1):
                hit |= (minute + MINUTES_PER_DAY >= start) & (minute + MINUTES_PER_DAY < end)
            result[on_day] = hit
        return result
