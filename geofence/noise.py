"""How over-confident each phone's reported accuracy is, learned online from its own fixes.

A phone's accuracy is the 68 % radius of its error (1.515 σ for a 2-D normal), but many phones claim
two to four times less than they scatter, indoors above all. Two consecutive fixes of a phone that
stays put differ by pure noise: their squared distance over the sum of their claimed variances is
χ² with 2 degrees of freedom times the square of the over-confidence. People are still far more
often than they move, so the median of that ratio measures the phone and not its travels: first the
mean of its logarithm over a phone's first pairs (clipped, so that a trip weighs little), then a
running median (a small step up or down per pair, which moving pairs can only push so far).

Every fix of every phone goes through here, so the update is a handful of array passes per batch.
The worker snapshots what it learned of the batch's phones with the tracks (``state``/``restore``),
so a restarted worker, or one taking a partition over, judges each phone as the one before it did:
learning it again from scratch changed decisions, and alerts, after every restart."""

import math
from collections.abc import Callable

import numpy as np

from geofence.engine import BAND_M, METRES_PER_DEGREE, person_then_time
from geofence.models import NOISE_FIELDS as FIELDS

SIGMA_PER_ACCURACY = 1 / 1.515
MEDIAN_CHI2_2 = 2 * math.log(2)
MEDIAN_LESS_MEAN_LN_CHI2_2 = math.log(MEDIAN_CHI2_2) - (math.log(2) - 0.5772156649)  # Euler's γ
RATIO_CLIP = (0.02, 200.0)  # while learning: χ²₂'s 1 % quantile, and an over-confidence of 5 with room
PAIR_MAX_US = 600 * 1_000_000  # fixes further apart than this may have moved anywhere: no pair
LEARNED_PAIRS = 30  # pairs averaged before the running median takes over
FIRST_PAIRS = 10  # fewer tell too little
# The scale used is the upper end of what the pairs so far allow: ln(ratio) has a standard deviation
# of π/√6 for χ²₂, so ln(scale) one of π/(2√6)/√n; 2.33 of those is the one-sided 99 % bound. Past
# LEARNED_PAIRS the running median is about as sure as a mean of that many.
UPPER_99 = 2.33 * math.pi / (2 * math.sqrt(6))
STEP = 0.03  # the running median's step in ln(ratio): about 1.5 % of the scale per pair


class DeviceNoise:
    """Per person (one phone each), in tables indexed by supervisee id (ids are dense enough: a few
    dozen bytes each): the last precise fix and the running median of the ratio."""

    def __init__(self) -> None:
        self.last_us = np.empty(0, dtype=np.int64)
        self.last_lat = np.empty(0)
        self.last_lon = np.empty(0)
        self.last_var = np.empty(0)
        self.median = np.empty(0)  # of the ratio, moved in steps of its logarithm
        self.pairs = np.empty(0, dtype=np.int64)

    def _grow(self, top: int) -> None:
        grow = top + 1 - len(self.pairs)
        if grow <= 0:
            return
        grow = max(grow, len(self.pairs) // 2)  # amortised
        self.last_us = np.r_[self.last_us, np.full(grow, -1, dtype=np.int64)]
        self.last_lat, self.last_lon, self.last_var = (
            np.r_[c, np.zeros(grow)] for c in (self.last_lat, self.last_lon, self.last_var)
        )
        self.median = np.r_[self.median, np.full(grow, MEDIAN_CHI2_2)]
        self.pairs = np.r_[self.pairs, np.zeros(grow, dtype=np.int64)]

    def update(self, fixes: dict[str, np.ndarray], by_person: np.ndarray | None = None) -> None:
        """Learn from a batch of fixes (any order; late and duplicate ones are skipped), given in
        person-then-time order by ``by_person`` if the caller has it."""
        if by_person is None:
            by_person = person_then_time(fixes["supervisee_id"], fixes["ts_us"])
        accuracy = fixes["accuracy_m"][by_person]
        order = by_person[(accuracy > 0) & (accuracy < BAND_M)]
        if not len(order):
            return
        person, ts = fixes["supervisee_id"][order], fixes["ts_us"][order]
        self._grow(int(person[-1]))  # sorted by person
        # In fix time: a fix not after the phone's last one (late, duplicate) teaches nothing.
        same = person[1:] == person[:-1]
        keep = np.r_[True, ~same | (ts[1:] != ts[:-1])] & (ts > self.last_us[person])
        if not keep.all():
            order, person, ts = order[keep], person[keep], ts[keep]
            if not len(order):
                return
            same = person[1:] == person[:-1]
        lat, lon, var = fixes["lat"][order], fixes["lon"][order], fixes["accuracy_m"][order] ** 2
        # Each fix's predecessor: the fix before it in the batch, or the person's last one before.
        first = np.flatnonzero(np.r_[True, ~same])
        before = person[first]
        prev_us, prev_lat, prev_lon, prev_var = (np.r_[0, c[:-1]] for c in (ts, lat, lon, var))
        prev_us[first], prev_lat[first] = self.last_us[before], self.last_lat[before]
        prev_lon[first], prev_var[first] = self.last_lon[before], self.last_var[before]
        pair = (prev_us >= 0) & (ts - prev_us <= PAIR_MAX_US)
        north = (lat - prev_lat) * METRES_PER_DEGREE
        east = (lon - prev_lon) * METRES_PER_DEGREE * np.cos(lat * (math.pi / 180))
        ratio = (north * north + east * east) / ((var + prev_var) * SIGMA_PER_ACCURACY**2)
        count = np.add.reduceat(pair, first, dtype=np.int64)
        seen = self.pairs[before]
        # While learning: the mean of ln(ratio) so far, as the median it implies.
        logs = np.where(pair, np.log(np.clip(ratio, *RATIO_CLIP)), 0.0)
        mean = ((np.log(self.median[before]) - MEDIAN_LESS_MEAN_LN_CHI2_2) * seen + np.add.reduceat(logs, first)) / (
            np.maximum(seen + count, 1)
        )
        # Then: a step towards each pair's ratio, all from the estimate the batch began with.
        up = np.where(pair, np.where(ratio > self.median[person], 1.0, -1.0), 0.0)
        self.median[before] = np.where(
            seen < LEARNED_PAIRS,
            np.where(seen + count > 0, np.exp(mean + MEDIAN_LESS_MEAN_LN_CHI2_2), self.median[before]),
            self.median[before] * np.exp(STEP * np.add.reduceat(up, first)),
        )
        self.pairs[before] += count
        last = np.r_[first[1:] - 1, len(person) - 1]
        self.last_us[before], self.last_lat[before] = ts[last], lat[last]
        self.last_lon[before], self.last_var[before] = lon[last], var[last]

    def state(self, people: np.ndarray) -> dict[str, np.ndarray]:
        """What has been learned of these people's phones (those it has seen a fix of), for a snapshot."""
        people = np.unique(people)
        people = people[people < len(self.pairs)]
        people = people[self.last_us[people] >= 0]
        return {"supervisee_id": people} | {name: getattr(self, name)[people] for name in FIELDS}

    def restore(self, saved: dict[str, np.ndarray]) -> None:
        """Take a snapshot's estimates over, replacing these people's."""
        people = saved["supervisee_id"]
        if not len(people):
            return
        self._grow(int(people.max()))
        for name in FIELDS:
            getattr(self, name)[people] = saved[name]

    def forget(self, chosen: Callable[[np.ndarray], np.ndarray]) -> None:
        """Unlearn the people ``chosen`` says (a mask over supervisee ids): another worker has them now."""
        gone = chosen(np.arange(len(self.pairs)))
        self.last_us[gone], self.median[gone], self.pairs[gone] = -1, MEDIAN_CHI2_2, 0

    def scales(self, supervisee_id: np.ndarray) -> np.ndarray:
        """How many times its claimed accuracy each phone may really scatter (at least 1), NaN while
        there is too little to tell."""
        known = supervisee_id < len(self.pairs)
        scale = np.full(len(supervisee_id), np.nan)
        i = supervisee_id[known]
        pairs = self.pairs[i]
        learned = pairs >= FIRST_PAIRS
        scale[np.flatnonzero(known)[learned]] = _scale(self.median[i[learned]], pairs[learned])
        return scale

    def scale(self, supervisee_id: int) -> float | None:
        """``scales`` for one person, None while there is too little to tell."""
        if supervisee_id >= len(self.pairs) or self.pairs[supervisee_id] < FIRST_PAIRS:
            return None
        return float(_scale(self.median[supervisee_id], self.pairs[supervisee_id]))


def _scale(median: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    sure = np.exp(UPPER_99 / np.sqrt(np.minimum(pairs, LEARNED_PAIRS)))
    return np.maximum(1.0, np.sqrt(median / MEDIAN_CHI2_2) * sure)
