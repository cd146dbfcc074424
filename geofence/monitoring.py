"""When each person may be judged: their approved electronic monitoring windows (社区矫正法 art. 29),
as sorted arrays that a whole batch of fixes is checked against at once. Outside them no zone is
evaluated: there is no lawful basis for it."""

from datetime import datetime

import numpy as np


def _us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


class MonitoringWindows:
    """Half-open windows [from, until) in µs, grouped by person and sorted by start."""

    def __init__(self, windows: dict[int, list[tuple[datetime, datetime]]]):
        rows = sorted((person, _us(start), _us(end)) for person, spans in windows.items() for start, end in spans)
        self.person = np.array([r[0] for r in rows], dtype=np.int64)
        self.from_us = np.array([r[1] for r in rows], dtype=np.int64)
        self.until_us = np.array([r[2] for r in rows], dtype=np.int64)
        self._widest = int(np.unique(self.person, return_counts=True)[1].max()) if rows else 0

    def covers(self, supervisee_id: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
        """Per fix: is its time inside one of its person's windows?"""
        inside = np.zeros(len(supervisee_id), dtype=bool)
        first = np.searchsorted(self.person, supervisee_id, side="left")
        last = np.searchsorted(self.person, supervisee_id, side="right")
        # A person has a handful of windows (a period and its renewals): one pass per window rank.
        for k in range(self._widest):
            row = first + k
            has = row < last
            at = np.where(has, row, 0)
            inside |= has & (self.from_us[at] <= ts_us) & (ts_us < self.until_us[at])
        return inside
