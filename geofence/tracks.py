"""Per-person, per-zone state machines: a violation (out of the wall, into a barred place) is
confirmed only after enough consecutive fixes over enough time on the wrong side, and over only
after enough back on the right side, so GPS jitter, multipath outliers, late and duplicate
deliveries never flap. Uncertain fixes neither count nor reset.

The machines run in fix time, not arrival time: fixes older than the last one seen on a track are
ignored. Most tracks see only fixes on the right side; a batch's observations are screened in
arrays and only the tracks with something to decide run the Python state machine.
"""

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from core.wire import AlertLevel
from geofence.config import Thresholds
from geofence.engine import BAND_M, INSIDE, METRES_PER_DEGREE, OUTSIDE, UNCERTAIN, Observations, ZoneIndex, observe
from geofence.models import ZoneKind
from geofence.noise import SIGMA_PER_ACCURACY, DeviceNoise

INCLUSION_EXIT = "inclusion_exit"
CURFEW_BREACH = "curfew_breach"
EXCLUSION_ENTRY = "exclusion_entry"
US = 1_000_000


@dataclass(slots=True)
class Track:
    violating: bool = False
    last_us: int = -1
    run_fixes: int = 0  # the current run of fixes on the other side than ``violating`` says
    run_since_us: int = 0
    run_inner: int = 0  # exclusion: fixes of the run inside the zone itself, not just its ring
    run_far: bool = False  # every fix of the run so far was far out (Thresholds.exit_confirm_far_m)
    run_fix: int = -1  # the batch row of the run's first fix (not kept across batches)
    # Sums over the run's precise fixes, wrong side or uncertain: their centroid must be surely on
    # the wrong side too, judged by their actual spread. Noise scatters the fixes of a person who
    # stays put all around them, however confident the phone claims to be, so the centroid stays
    # home; a real exit carries it out.
    run_n: int = 0
    run_lat: float = 0.0
    run_lon: float = 0.0
    run_lat2: float = 0.0
    run_lon2: float = 0.0
    run_accuracy_m: float = 0.0
    episode_us: int = 0
    evidence_us: int = 0
    red: bool = False  # exclusion: the zone itself (not only its ring) entered
    rule: str = ""  # of the open episode

    def snapshot(self) -> dict:
        state = asdict(self)
        del state["run_fix"]
        return state


@dataclass(frozen=True, slots=True)
class ZoneEvent:
    """A track's news, for zone-events.v1: an episode ``opened``, more ``evidence``, ``ended``."""

    supervisee_id: int
    zone_id: int
    rule: str
    kind: str
    level: str  # what the geometry alone says; the alert rules may raise it
    started_us: int
    ts_us: int
    lat: float
    lon: float
    accuracy_m: float
    distance_m: float
    reason: str = ""

    @property
    def event_id(self) -> str:
        return f"{self.supervisee_id}:{self.zone_id}:{self.started_us}:{self.kind}:{self.ts_us}"

    def as_dict(self) -> dict:
        return {"id": self.event_id} | {name: getattr(self, name) for name in self.__dataclass_fields__}


class Batch(NamedTuple):
    """What every track's run reads of one batch: the zones, the observations and the fixes."""

    index: ZoneIndex
    obs: Observations
    fixes: dict[str, np.ndarray]


class Share(NamedTuple):
    """One track's share of a batch: its person and zone, whether the zone is a barred place, and
    its observations, rows ``start`` to ``stop`` (exclusive) of the batch's."""

    person: int
    zone_id: int
    exclusion: bool
    start: int
    stop: int


def _rule(index: ZoneIndex, zone_id: int) -> str:
    zone = index.zones[index.position[zone_id]]
    if zone.kind == ZoneKind.exclusion:
        return EXCLUSION_ENTRY
    return CURFEW_BREACH if zone.schedule else INCLUSION_EXIT


# Student's t, two-sided 95 %, by degrees of freedom: a spread measured from a few fixes can be
# far smaller than the phone's real scatter.
T_95 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23)
# Once a phone's scatter is learned (``geofence.noise``) it is known, not measured from the run: a
# normal quantile, far out because the run is tested again at every fix and the scale learned may
# still be a little low.
Z_LEARNED = 4.0


def _add_to_centroid(track: Track, fixes: dict[str, np.ndarray], row: int) -> None:
    accuracy = float(fixes["accuracy_m"][row])
    if not accuracy < BAND_M:  # cell-tower fixes (and unknown accuracy) only blur the centroid
        return
    lat, lon = float(fixes["lat"][row]), float(fixes["lon"][row])
    track.run_n += 1
    track.run_lat += lat
    track.run_lon += lon
    track.run_lat2 += lat * lat
    track.run_lon2 += lon * lon
    track.run_accuracy_m += accuracy


def _centroid_side(index: ZoneIndex, zone_id: int, track: Track, min_fixes: int, scale: float | None) -> int:
    """The side of the run's centroid, with a confidence radius as its accuracy. With the phone's
    scatter learned (``scale`` times its claimed accuracy), the standard error of the mean of that
    noise, ``Z_LEARNED`` times. Without, Student's t times the fixes' sample spread (or their claimed
    accuracy if larger) over the square root of their number: a spread from a few fixes can be far
    smaller than the real scatter, and a person moving about widens it, so this is the cautious way.
    Too few precise fixes decide nothing."""
    n = track.run_n
    if n < min_fixes:
        return UNCERTAIN
    lat, lon = track.run_lat / n, track.run_lon / n
    z = index.positions(np.array([zone_id]))
    x, y = index.local_xy(z, np.array([lon]), np.array([lat]))
    if scale is not None:
        error_m = Z_LEARNED * scale * SIGMA_PER_ACCURACY * track.run_accuracy_m / n / math.sqrt(n)
        return int(index.outer.classify(z, x, y, np.array([error_m]))[0])
    spread_m = math.sqrt(
        (
            max(0.0, track.run_lat2 / n - lat * lat) * METRES_PER_DEGREE**2
            + max(0.0, track.run_lon2 / n - lon * lon) * float(index.kx[z[0]]) ** 2
        )
        * n
        / (n - 1)
    )
    t = T_95[n - 2] if n - 2 < len(T_95) else 2.0
    error_m = t * max(spread_m, track.run_accuracy_m / n) / math.sqrt(n)
    return int(index.outer.classify(z, x, y, np.array([error_m]))[0])


def _far(index: ZoneIndex, zone_id: int, exclusion: bool, fixes: dict, row: int, far_m: float, scale) -> bool:
    """Whether the fix is ``far_m`` beyond its accuracy circle (times the scatter learned for its
    phone) on the wrong side: outside the wall, or inside the barred place itself."""
    accuracy = float(fixes["accuracy_m"][row])
    if not accuracy < BAND_M:  # cell-tower fixes (and unknown accuracy) are never far enough to tell
        return False
    z = index.positions(np.array([zone_id]))
    x, y = index.local_xy(z, fixes["lon"][row : row + 1], fixes["lat"][row : row + 1])
    radius = np.array([accuracy * (scale or 1.0) + far_m])
    if exclusion:
        return int(index.inner.classify(z, x, y, radius)[0]) == INSIDE
    return int(index.outer.classify(z, x, y, radius)[0]) == OUTSIDE


def _key(person: int, zone: int) -> int:
    return (person << 32) | zone


class Tracks:
    """Every (person, zone) track. A quiet track (on the right side, nothing pending) is just the
    time of its last fix, in sorted arrays searched for a whole batch at once; only the active ones
    (violating, or part-way to a decision) are Track objects, and only they are snapshotted."""

    def __init__(self, thresholds: Thresholds, active: dict[tuple[int, int], Track] | None = None):
        self.thresholds = thresholds
        self.active: dict[int, Track] = {}
        self._keys = np.empty(0, dtype=np.int64)
        self._last_us = np.empty(0, dtype=np.int64)
        self._is_active = np.empty(0, dtype=bool)
        self.changed: set[int] = set()
        self.dropped: dict[int, int] = {}  # key → the fix time the track had reached (its version)
        self.noise = DeviceNoise()
        self.restore(active or {})

    def restore(self, active: dict[tuple[int, int], Track], quiet: dict[tuple[int, int], int] | None = None) -> None:
        """Take saved tracks over, replacing these keys' tracks in memory: live ones, and quiet ones
        as the fix time they reached (so that older fixes replayed to them are still skipped)."""
        saved = {_key(*key): (track, track.last_us) for key, track in active.items()}
        saved |= {_key(*key): (None, last_us) for key, last_us in (quiet or {}).items() if _key(*key) not in saved}
        if not saved:
            return
        keys = np.fromiter(saved, dtype=np.int64, count=len(saved))
        self._insert(keys)
        slots = np.searchsorted(self._keys, keys)
        self._last_us[slots] = [last_us for _, last_us in saved.values()]
        self._is_active[slots] = [track is not None for track, _ in saved.values()]
        for key, (track, _) in saved.items():
            if track is None:
                self.active.pop(key, None)
            else:
                self.active[key] = track
            self.changed.discard(key)
            self.dropped.pop(key, None)

    def forget_people(self, chosen: Callable[[np.ndarray], np.ndarray]) -> None:
        """Drop every track of the people ``chosen`` says (a mask over an array of supervisee ids):
        their fixes go to another worker now."""
        gone = chosen(self._keys >> 32)
        if not gone.any():
            return
        for key in self._keys[gone].tolist():
            self.active.pop(key, None)
            self.changed.discard(key)
            self.dropped.pop(key, None)
        self._keys, self._last_us, self._is_active = self._keys[~gone], self._last_us[~gone], self._is_active[~gone]

    def get(self, supervisee_id: int, zone_id: int) -> Track | None:
        """The active track of a person and zone, if any."""
        return self.active.get(_key(supervisee_id, zone_id))

    def _insert(self, keys: np.ndarray) -> None:
        """Add tracks first seen now (``keys`` distinct)."""
        where = np.minimum(np.searchsorted(self._keys, keys), max(len(self._keys) - 1, 0))
        new = keys[self._keys[where] != keys] if len(self._keys) else keys
        if not len(new):
            return
        keys = np.concatenate([self._keys, new])
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._last_us = np.concatenate([self._last_us, np.full(len(new), -1, dtype=np.int64)])[order]
        self._is_active = np.concatenate([self._is_active, np.zeros(len(new), dtype=bool)])[order]

    def advance(self, index: ZoneIndex, obs: Observations, fixes: dict[str, np.ndarray]) -> list["ZoneEvent"]:
        """Feed one batch's observations; return the events they cause."""
        self.noise.update(fixes, obs.by_person)
        if not len(obs):
            return []
        key = (obs.supervisee_id << 32) | obs.zone_id
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        lengths = np.diff(np.r_[starts, len(key)])
        seg_key = key[starts]
        self._insert(seg_key)
        slot = np.searchsorted(self._keys, seg_key)
        exclusion = index.exclusion[index.positions(obs.zone_id[starts])]
        seg_of = np.repeat(np.arange(len(starts)), lengths)
        # Late and duplicate fixes: the track has moved past them.
        fresh = obs.ts_us > self._last_us[slot][seg_of]
        wrong = np.where(exclusion[seg_of], INSIDE, OUTSIDE)
        n_wrong = np.add.reduceat((obs.status == wrong) & fresh, starts)
        obs = self._rescaled(index, obs, fixes, seg_key[self._is_active[slot] | (n_wrong > 0)] >> 32)
        n_wrong = np.add.reduceat((obs.status == wrong) & fresh, starts)
        events: list[ZoneEvent] = []
        batch = Batch(index, obs, fixes)
        for n in np.flatnonzero(self._is_active[slot] | (n_wrong > 0)).tolist():
            k = int(seg_key[n])
            track = self.active.get(k) or Track(last_us=int(self._last_us[slot[n]]))
            start = int(starts[n])
            share = Share(k >> 32, k & 0xFFFFFFFF, bool(exclusion[n]), start, start + int(lengths[n]))
            events.extend(self._run(batch, track, share))
            self._is_active[slot[n]] = track.violating or track.run_fixes > 0
            # The latest of the two wins: a track is either snapshotted or left as a tombstone.
            if self._is_active[slot[n]]:
                self.active[k] = track
                self.changed.add(k)
                self.dropped.pop(k, None)
            elif self.active.pop(k, None) is not None:
                self.dropped[k] = track.last_us
                self.changed.discard(k)
        self._last_us[slot] = np.maximum(self._last_us[slot], np.maximum.reduceat(obs.ts_us, starts))
        events.extend(self._end_superseded(index, obs, exclusion[seg_of]))
        return events

    def _rescaled(self, index: ZoneIndex, obs: Observations, fixes: dict, people: np.ndarray) -> Observations:
        """The observations with the fixes of these people, if their phones are over-confident,
        classified again with their accuracy times the scatter learned: a fix counts as on the
        wrong side only if it is, given how far such a phone really strays."""
        people = np.unique(people)
        people = people[self.noise.scales(people) > 1.0]  # NaN (not learned yet) is not
        if not len(people):
            return obs
        chosen = np.zeros(int(max(people.max(), fixes["supervisee_id"].max(), obs.supervisee_id.max())) + 1, dtype=bool)
        chosen[people] = True
        rows = np.flatnonzero(chosen[fixes["supervisee_id"]])
        sub = {name: fixes[name][rows] for name in ("supervisee_id", "ts_us", "lat", "lon", "accuracy_m")}
        sub["accuracy_m"] = sub["accuracy_m"] * self.noise.scales(sub["supervisee_id"])  # all learned
        again = observe(index, sub, 0.0)
        these = np.flatnonzero(chosen[obs.supervisee_id])
        # The same fixes in the same zones give the same rows in the same order.
        if not (np.array_equal(again.zone_id, obs.zone_id[these]) and np.array_equal(again.ts_us, obs.ts_us[these])):
            return obs
        status, inner = obs.status.copy(), obs.inner.copy()
        known = ~np.isnan(sub["accuracy_m"][again.fix])  # no accuracy: as observed, with the default
        status[these[known]], inner[these[known]] = again.status[known], again.inner[known]
        return Observations(obs.supervisee_id, obs.zone_id, obs.ts_us, status, inner, obs.fix, obs.by_person)

    def _end_superseded(self, index: ZoneIndex, obs: Observations, exclusion: np.ndarray) -> list["ZoneEvent"]:
        """A person's open wall or curfew episode ends when another inclusion zone binds them (the
        curfew begins or ends, a leave starts): the rule it broke is no longer the one that applies."""
        open_inclusion = [k for k, t in self.active.items() if t.violating and t.rule != EXCLUSION_ENTRY]
        if not open_inclusion:
            return []
        # Only the people with an open wall or curfew episode matter: usually a handful.
        people_open = np.array(sorted({k >> 32 for k in open_inclusion}), dtype=np.int64)
        inclusion = np.flatnonzero(~exclusion & np.isin(obs.supervisee_id, people_open))
        order = inclusion[np.lexsort((obs.ts_us[inclusion], obs.supervisee_id[inclusion]))]
        people = obs.supervisee_id[order]
        last = np.r_[people[1:] != people[:-1], True] if len(order) else np.empty(0, dtype=bool)
        latest = dict(zip(people[last].tolist(), order[last].tolist(), strict=True))
        events = []
        for k in open_inclusion:
            row = latest.get(k >> 32)
            if row is not None and int(obs.zone_id[row]) != k & 0xFFFFFFFF:
                events.extend(self._end(k, int(obs.ts_us[row]), "another zone binds now", moved_on=True))
        return events

    def _run(self, batch: Batch, track: Track, share: Share) -> list[ZoneEvent]:
        """Run one track's state machine over its share of the batch; return the events it causes."""
        t = self.thresholds
        index, obs, fixes = batch
        person, zone_id, exclusion = share.person, share.zone_id, share.exclusion
        key = (person, zone_id)
        wrong, right = (INSIDE, OUTSIDE) if exclusion else (OUTSIDE, INSIDE)
        events = []
        track.run_fix = -1  # a run begun in an earlier batch has no row in this one
        scale = self.noise.scale(person) if t.centroid_check else None
        for i in range(share.start, share.stop):
            ts = int(obs.ts_us[i])
            if ts <= track.last_us:
                continue  # late or duplicate: the state has moved past it
            track.last_us = ts
            status = int(obs.status[i])
            if not track.violating:
                if status == right:
                    # A cell-tower circle, centred on the tower, cannot refute precise fixes of the run.
                    if track.run_n and not float(fixes["accuracy_m"][int(obs.fix[i])]) < BAND_M:
                        continue
                    track.run_fixes = track.run_inner = 0
                    continue
                if status == wrong and not track.run_fixes:
                    track.run_since_us, track.run_fix = ts, i
                    track.run_n = 0
                    track.run_lat = track.run_lon = track.run_lat2 = track.run_lon2 = track.run_accuracy_m = 0.0
                    # Not at home during a curfew: a small zone, where indoor fixes straddle the
                    # edge and two multipath outliers among them would look far out.
                    track.run_far = t.exit_confirm_far_fixes > 0 and _rule(index, zone_id) != CURFEW_BREACH
                if track.run_fixes or status == wrong:
                    _add_to_centroid(track, fixes, int(obs.fix[i]))
                if status != wrong:
                    continue
                track.run_fixes += 1
                track.run_inner += int(obs.inner[i] == INSIDE)
                # Every precise fix since the run began far out, none of them uncertain in between.
                track.run_far = (
                    track.run_far
                    and track.run_n == track.run_fixes
                    and _far(index, zone_id, exclusion, fixes, int(obs.fix[i]), t.exit_confirm_far_m, scale)
                )
                needed = min(t.exit_confirm_fixes, t.exit_confirm_far_fixes) if track.run_far else t.exit_confirm_fixes
                if (
                    track.run_fixes >= needed
                    and ts - track.run_since_us >= t.exit_confirm_s * US
                    and (not t.centroid_check or _centroid_side(index, zone_id, track, max(2, needed), scale) == wrong)
                ):
                    track.violating, track.episode_us, track.evidence_us = True, track.run_since_us, ts
                    track.red = exclusion and track.run_inner >= needed
                    track.rule = _rule(index, zone_id)
                    track.run_fixes = track.run_inner = 0
                    events.append(self._event(batch, key, track, "opened", i))
                continue
            if status == 0:
                continue
            if status == wrong:
                track.run_fixes = 0
                inner_now = exclusion and obs.inner[i] == INSIDE
                track.run_inner = track.run_inner + 1 if inner_now else 0
                newly_red = exclusion and not track.red and track.run_inner >= t.exit_confirm_fixes
                if newly_red or ts - track.evidence_us >= t.evidence_interval_s * US:
                    track.red = track.red or newly_red
                    track.evidence_us = ts
                    events.append(self._event(batch, key, track, "evidence", i))
                continue
            if not track.run_fixes:
                track.run_since_us, track.run_fix = ts, i
            track.run_fixes += 1
            if track.run_fixes >= t.return_confirm_fixes and ts - track.run_since_us >= t.return_confirm_s * US:
                first = track.run_fix if track.run_fix >= 0 else i
                events.append(self._event(batch, key, track, "ended", first, ts_us=track.run_since_us))
                track.violating, track.episode_us, track.red, track.rule = False, 0, False, ""
                track.run_fixes = track.run_inner = 0
        return events

    def _event(
        self, batch: Batch, key: tuple[int, int], track: Track, kind: str, i: int, ts_us: int | None = None, reason=""
    ) -> ZoneEvent:
        """The track's event about observation ``i`` of the batch (at ``ts_us`` if given)."""
        index, obs, fixes = batch
        person, zone_id = key
        row = int(obs.fix[i])
        lat, lon = float(fixes["lat"][row]), float(fixes["lon"][row])
        if track.rule == EXCLUSION_ENTRY:
            level = AlertLevel.red if track.red else AlertLevel.yellow
        else:
            level = index.zones[index.position[zone_id]].severity
        return ZoneEvent(
            supervisee_id=person,
            zone_id=zone_id,
            rule=track.rule,
            kind=kind,
            level=str(level),
            started_us=track.episode_us,
            ts_us=int(obs.ts_us[i]) if ts_us is None else ts_us,
            lat=lat,
            lon=lon,
            accuracy_m=float(np.nan_to_num(fixes["accuracy_m"][row], nan=0.0)),
            distance_m=round(index.distance_m([zone_id], lon, lat), 1),
            reason=reason,
        )

    def _end(self, key: int, at_us: int, reason: str, moved_on: bool = False) -> list[ZoneEvent]:
        """Drop an active track; if it was violating, its episode is over. ``moved_on``: ``at_us`` is
        the time of the fix that ended it, which the track has now reached too."""
        track = self.active.pop(key)
        slot = np.searchsorted(self._keys, key)
        if moved_on:
            self._last_us[slot] = max(int(self._last_us[slot]), at_us)
        self.dropped[key] = int(self._last_us[slot])
        self.changed.discard(key)
        self._is_active[slot] = False
        if not track.violating:
            return []
        level = AlertLevel.red if track.red else AlertLevel.yellow
        end_us = max(at_us, track.episode_us)
        person, zone = key >> 32, key & 0xFFFFFFFF
        return [
            ZoneEvent(
                person, zone, track.rule, "ended", str(level), track.episode_us, end_us, 0.0, 0.0, 0.0, 0.0, reason
            )
        ]

    def forget_zones(self, index: ZoneIndex, at_us: int) -> list[ZoneEvent]:
        """After the zones change: active tracks of zones no longer in the index end their episodes."""
        events = []
        for key in [k for k in self.active if k & 0xFFFFFFFF not in index.position]:
            events.extend(self._end(key, at_us, "zone removed"))
        return events

    def take_changes(self) -> tuple[dict[tuple[int, int], Track], dict[tuple[int, int], int]]:
        """The tracks to snapshot, and those gone quiet with the fix time they reached, since the
        last call."""
        changed = {(k >> 32, k & 0xFFFFFFFF): self.active[k] for k in self.changed if k in self.active}
        dropped = {(k >> 32, k & 0xFFFFFFFF): v for k, v in self.dropped.items()}
        self.changed, self.dropped = set(), {}
        return changed, dropped
