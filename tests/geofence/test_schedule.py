"""Zone schedules: weekly windows in local time, across midnight and weeks, and dated exceptions."""

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from geofence.schedule import Schedule, ScheduleError

SHANGHAI = ZoneInfo("Asia/Shanghai")
CURFEW = {"weekly": [{"days": [0, 1, 2, 3, 4, 5, 6], "from": "22:00", "to": "06:00"}]}


def at(*local: str) -> np.ndarray:
    return np.array([int(datetime.fromisoformat(t).replace(tzinfo=SHANGHAI).timestamp() * 1e6) for t in local])


def test_a_curfew_runs_across_midnight_with_exact_edges():
    curfew = Schedule.parse(CURFEW)
    got = curfew.in_force(
        at("2026-11-16 21:59", "2026-11-16 22:00", "2026-11-17 00:00", "2026-11-17 05:59", "2026-11-17 06:00")
    )
    assert got.tolist() == [False, True, True, True, False]


def test_a_night_belongs_to_the_day_it_starts_across_the_week():
    sunday_nights = Schedule.parse({"weekly": [{"days": [6], "from": "23:00", "to": "02:00"}]})
    # 2026-11-22 is a Sunday: its night runs into Monday the 23rd; Monday's own night is not in force.
    got = sunday_nights.in_force(at("2026-11-22 23:30", "2026-11-23 01:00", "2026-11-23 23:30", "2026-11-21 23:30"))
    assert got.tolist() == [True, True, False, False]


def test_an_exception_replaces_the_windows_that_start_on_its_date():
    raw = CURFEW | {
        "exceptions": [
            {"date": "2026-12-31", "windows": []},
            {"date": "2027-01-01", "windows": [{"from": "02:00", "to": "06:00"}]},
        ]
    }
    schedule = Schedule.parse(raw)
    got = schedule.in_force(
        at("2026-12-30 23:00", "2026-12-31 23:00", "2027-01-01 01:00", "2027-01-01 03:00", "2027-01-01 23:00")
    )
    assert got.tolist() == [True, False, False, True, False]


def test_all_day_and_24_00():
    schedule = Schedule.parse({"weekly": [{"days": [0], "from": "00:00", "to": "24:00"}]})
    assert schedule.in_force(at("2026-11-16 00:00", "2026-11-16 23:59", "2026-11-17 00:00")).tolist() == [
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"weekly": [{"days": [7], "from": "22:00", "to": "06:00"}]}, "weekdays 0"),
        ({"weekly": [{"days": [1], "from": "25:00", "to": "06:00"}]}, "between 00:00 and 24:00"),
        ({"weekly": [{"days": [1], "from": "8 am", "to": "06:00"}]}, "not HH:MM"),
        ({"weekly": [{"days": [1], "from": "08:00", "to": "08:00"}]}, "equal"),
        ({"weekly": [{"days": [1], "from": "08:00"}]}, "'from' and 'to'"),
        ({"exceptions": [{"date": "31/12/2026", "windows": []}], "weekly": CURFEW["weekly"]}, "YYYY-MM-DD"),
        ({"weekly": []}, "no window"),
        ({"hours": []}, "'weekly'"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_reason(raw, says):
    with pytest.raises(ScheduleError, match=says):
        Schedule.parse(raw)
