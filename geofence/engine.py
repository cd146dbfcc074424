"""The compiled zone index: every zone of every person in flat arrays, so a whole Kafka batch is
classified in a few vectorised shapely calls, whatever the number of people and zones.

Each fix-zone pair is INSIDE or OUTSIDE only when the fix's whole accuracy circle is on that side;
otherwise it is UNCERTAIN and never a violation by itself. The pairs become observations for the
per-person state machines (``geofence.tracks``):

- one inclusion observation per fix: of the inclusion zones in force at the fix's time, the highest
  priority ones bind (a curfew above the everyday wall), together with any travel leave in force;
  the person is inside if inside any of them;
- one observation per exclusion zone in force, with the fix's side of the buffered area (a yellow
  warning) and of the zone itself (red).
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np
import shapely

from geofence.models import ZoneKind
from geofence.schedule import Schedule
from geofence.service import RuleZone

INSIDE, UNCERTAIN, OUTSIDE = 1, 0, -1
BAND_M = 250.0
METRES_PER_DEGREE = 6_371_008.8 * math.pi / 180
NEVER = np.iinfo(np.int64).max
LEAVE_TIER = np.iinfo(np.int64).min  # travel leave joins whichever tier binds; it never outranks one


@dataclass(frozen=True)
class Areas:
    """One polygon per zone in its own metric frame, with what makes the point tests cheap.

    Most fixes are far from any boundary. A fix whose accuracy circle lies within the zone's largest
    inscribed circle is inside, one whose circle lies beyond every vertex's distance from the frame's
    origin is outside: plain arithmetic. The rest meet the area shrunk and grown by BAND_M (a point
    test) and only those near the wall pay for a distance."""

    area: np.ndarray
    boundary: np.ndarray
    core: np.ndarray
    hull: np.ndarray
    inscribed_x: np.ndarray
    inscribed_y: np.ndarray
    inscribed_r: np.ndarray
    reach: np.ndarray  # the farthest vertex from the frame's origin

    @classmethod
    def of(cls, polygons: list[shapely.Geometry]) -> "Areas":
        area = np.array(polygons, dtype=object)
        # The returned circle is truly inscribed whatever the tolerance (its radius is measured from
        # the centre found), so a coarse search is enough.
        tolerance = 0.05 * np.sqrt(shapely.area(area)) + 1.0
        radius_line = shapely.maximum_inscribed_circle(area, tolerance=tolerance) if len(area) else area
        centre = shapely.get_point(radius_line, 0)
        coords, owner = shapely.get_coordinates(area, return_index=True)
        reach = np.zeros(len(area))
        np.maximum.at(reach, owner, np.hypot(coords[:, 0], coords[:, 1]))
        areas = cls(
            area,
            shapely.boundary(area),
            # Both on the safe side of the true band: the core's rounded corners are cut by chords
            # up to a metre or two inwards, the hull's corners are mitred outwards.
            shapely.buffer(area, -(BAND_M + 2.0)),
            shapely.buffer(area, BAND_M, join_style="mitre"),
            shapely.get_x(centre),
            shapely.get_y(centre),
            shapely.length(radius_line),
            reach,
        )
        for geometries in (areas.area, areas.boundary, areas.core, areas.hull):
            shapely.prepare(geometries)
        return areas

    def take(self, rows: np.ndarray) -> "Areas":
        return Areas(*(getattr(self, f.name)[rows] for f in fields(self)))

    def classify(self, z: np.ndarray, x: np.ndarray, y: np.ndarray, accuracy_m: np.ndarray) -> np.ndarray:
        """Per pair (zone ``z[i]``, point ``x[i], y[i]`` in that zone's frame): its side."""
        status = np.full(len(z), UNCERTAIN, dtype=np.int8)
        status[np.hypot(x - self.inscribed_x[z], y - self.inscribed_y[z]) + accuracy_m < self.inscribed_r[z]] = INSIDE
        status[np.hypot(x, y) - accuracy_m > self.reach[z]] = OUTSIDE
        rest = np.flatnonzero((status == UNCERTAIN) & (accuracy_m < BAND_M))
        if len(rest):
            zr, xr, yr = z[rest], x[rest], y[rest]
            status[rest[shapely.contains_xy(self.core[zr], xr, yr)]] = INSIDE
            status[rest[~shapely.contains_xy(self.hull[zr], xr, yr)]] = OUTSIDE
        near = np.flatnonzero(status == UNCERTAIN)
        if not len(near):
            return status
        # Bounds that spare most point tests and distances (cell-tower fixes, mostly): from a point
        # inside, the ray away from the origin leaves the zone within its reach; from a point
        # outside, the inscribed circle is no farther than its edge. Circles reaching that far are
        # uncertain; when both bounds say so, whichever side the point is on.
        zn, xn, yn, an = z[near], x[near], y[near], accuracy_m[near]
        from_inside = an >= self.reach[zn] - np.hypot(xn, yn)
        from_outside = an >= np.hypot(xn - self.inscribed_x[zn], yn - self.inscribed_y[zn]) - self.inscribed_r[zn]
        open_question = np.flatnonzero(~(from_inside & from_outside))
        near, zn, xn, yn, an = (
            near[open_question],
            zn[open_question],
            xn[open_question],
            yn[open_question],
            an[open_question],
        )
        inside = shapely.contains_xy(self.area[zn], xn, yn)
        reaches_edge = np.where(inside, from_inside[open_question], from_outside[open_question])
        ask = np.flatnonzero(~reaches_edge)
        if len(ask):
            za = zn[ask]
            clear = shapely.distance(self.boundary[za], shapely.points(xn[ask], yn[ask])) > an[ask]
            status[near[ask[clear]]] = np.where(inside[ask[clear]], INSIDE, OUTSIDE)
        return status


class ZoneIndex:
    """Every rule zone compiled into column arrays, and each person's zones as index ranges."""

    def __init__(self, zones: Iterable[RuleZone], tz: str = "Asia/Shanghai", previous: "ZoneIndex | None" = None):
        """Compile ``zones``; the geometry of zones unchanged since ``previous`` is reused, so an edit
        recompiles one zone, not a province's."""
        zones = [z for z in zones if z.kind != ZoneKind.poi and z.supervisee_ids]
        self.zones = zones
        n = len(zones)
        self.position = {z.id: j for j, z in enumerate(zones)}
        self.zone_id = np.array([z.id for z in zones], dtype=np.int64)
        self._by_id = np.argsort(self.zone_id)
        self.exclusion = np.array([z.kind == ZoneKind.exclusion for z in zones], dtype=bool)
        self.leave = np.array([z.travel_leave for z in zones], dtype=bool)
        self.priority = np.array([LEAVE_TIER if z.travel_leave else z.priority for z in zones], dtype=np.int64)
        self.valid_from_us = np.array([_us(z.valid_from, -NEVER) for z in zones], dtype=np.int64)
        self.valid_to_us = np.array([_us(z.valid_to, NEVER) for z in zones], dtype=np.int64)
        # Zones share a handful of distinct schedules (every curfew is 22:00-06:00): compile each once.
        compiled: dict[str, int] = {}
        self.schedules: list[Schedule] = []
        self.schedule = np.full(n, -1, dtype=np.int64)
        for j, z in enumerate(zones):
            if z.schedule:
                key = repr(sorted(z.schedule.items()))
                if key not in compiled:
                    compiled[key] = len(self.schedules)
                    self.schedules.append(Schedule.parse(z.schedule, tz))
                self.schedule[j] = compiled[key]
        self.shapes = Shapes.reusing(zones, previous)
        self.lon0, self.lat0, self.kx = self.shapes.lon0, self.shapes.lat0, self.shapes.kx
        self.outer, self.inner = self.shapes.outer, self.shapes.inner
        self.buffered = np.array([z.buffer_m > 0 for z in zones], dtype=bool)
        by_person: dict[int, list[int]] = defaultdict(list)
        for j, z in enumerate(zones):
            for person in z.supervisee_ids:
                by_person[person].append(j)
        self.people = np.array(sorted(by_person), dtype=np.int64)
        counts = np.array([len(by_person[p]) for p in self.people.tolist()], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.members = np.array([j for p in self.people.tolist() for j in by_person[p]], dtype=np.int64)
        # Each person's row by id, looked up directly (ids are dense enough: a few bytes each).
        self._row_of = np.full(int(self.people[-1]) + 1 if len(self.people) else 0, -1, dtype=np.int64)
        self._row_of[self.people] = np.arange(len(self.people))

    def __len__(self) -> int:
        return len(self.zones)

    def positions(self, zone_ids: np.ndarray) -> np.ndarray:
        """Where each zone id sits in the column arrays."""
        return self._by_id[np.searchsorted(self.zone_id[self._by_id], zone_ids)]

    def zone_ids_of(self, supervisee_id: int) -> list[int]:
        i = int(np.searchsorted(self.people, supervisee_id))
        if i == len(self.people) or self.people[i] != supervisee_id:
            return []
        return self.zone_id[self.members[self.offsets[i] : self.offsets[i + 1]]].tolist()

    def local_xy(self, z: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (lon - self.lon0[z]) * self.kx[z], (lat - self.lat0[z]) * METRES_PER_DEGREE

    def distance_m(self, zone_ids: Iterable[int], lon: float, lat: float) -> float:
        """How far a point is from the nearest boundary among some zones, in metres."""
        z = np.array([self.position[i] for i in zone_ids], dtype=np.int64)
        x, y = self.local_xy(z, np.full(len(z), lon), np.full(len(z), lat))
        return float(shapely.distance(self.inner.boundary[z], shapely.points(x, y)).min())

    def pairs(self, supervisee_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (fix, zone) pair: each fix with each of its person's zones."""
        if not len(self.people):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        known = (supervisee_id >= 0) & (supervisee_id < len(self._row_of))
        i = np.where(known, self._row_of[np.where(known, supervisee_id, 0)], -1)
        counts = np.where(i >= 0, self.offsets[i + 1] - self.offsets[i], 0)
        fix = np.repeat(np.arange(len(supervisee_id)), counts)
        # Pair k of a fix is its person's k-th zone.
        first = np.repeat(self.offsets[i] - np.cumsum(counts) + counts, counts)
        return fix, self.members[first + np.arange(len(fix))]

    def in_force(self, z: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
        """Per pair: is zone ``z[i]`` in force at time ``ts_us[i]`` (validity window and schedule)?"""
        valid = (self.valid_from_us[z] <= ts_us) & (ts_us < self.valid_to_us[z])
        scheduled = self.schedule[z]
        for s in np.flatnonzero(np.bincount(scheduled[scheduled >= 0], minlength=len(self.schedules))).tolist():
            these = np.flatnonzero(scheduled == s)
            valid[these] &= self.schedules[s].in_force(ts_us[these])
        return valid


@dataclass(frozen=True)
class Shapes:
    """Each zone's geometry compiled: its metric frame (centred on it; equirectangular, well under a
    metre over a city) and its areas. An inclusion zone's buffer is tolerance outwards; an exclusion
    zone's is a warning ring around it: its outer edge raises yellow, the zone itself red."""

    lon0: np.ndarray
    lat0: np.ndarray
    kx: np.ndarray
    outer: Areas
    inner: Areas

    @classmethod
    def compile(cls, zones: list[RuleZone]) -> "Shapes":
        geometries = np.array([z.geometry for z in zones], dtype=object)
        centre = shapely.centroid(geometries)
        lon0, lat0 = shapely.get_x(centre), shapely.get_y(centre)
        kx = METRES_PER_DEGREE * np.cos(np.radians(lat0))
        local = _to_frames(geometries, lon0, lat0, kx)
        outer = [shapely.buffer(g, z.buffer_m) if z.buffer_m > 0 else g for g, z in zip(local, zones, strict=True)]
        return cls(lon0, lat0, kx, Areas.of(outer), Areas.of(local))

    def take(self, rows: np.ndarray) -> "Shapes":
        return Shapes(self.lon0[rows], self.lat0[rows], self.kx[rows], self.outer.take(rows), self.inner.take(rows))

    @classmethod
    def reusing(cls, zones: list[RuleZone], previous: "ZoneIndex | None") -> "Shapes":
        """Compile only the zones whose shape ``previous`` does not already hold."""
        old = previous.position if previous is not None else {}
        kept = [
            (j, old[z.id]) for j, z in enumerate(zones) if z.id in old and _same_shape(previous.zones[old[z.id]], z)
        ]
        fresh = np.setdiff1d(np.arange(len(zones)), np.array([j for j, _ in kept], dtype=np.int64))
        parts = [(fresh, cls.compile([zones[j] for j in fresh.tolist()]))]
        if kept:
            rows = np.array(kept, dtype=np.int64)
            parts.append((rows[:, 0], previous.shapes.take(rows[:, 1])))
        return cls.assemble(len(zones), parts)

    @classmethod
    def assemble(cls, n: int, parts: list[tuple[np.ndarray, "Shapes"]]) -> "Shapes":
        def column(get):
            first = get(parts[0][1])
            out = np.empty(n, dtype=first.dtype)
            for rows, part in parts:
                out[rows] = get(part)
            return out

        def areas(which: str) -> Areas:
            return Areas(*(column(lambda p, f=f.name: getattr(getattr(p, which), f)) for f in fields(Areas)))

        return cls(
            column(lambda p: p.lon0), column(lambda p: p.lat0), column(lambda p: p.kx), areas("outer"), areas("inner")
        )


def _same_shape(old: RuleZone, new: RuleZone) -> bool:
    same_geometry = old.geometry is new.geometry or (new.version is not None and old.version == new.version)
    return same_geometry and old.kind == new.kind and old.buffer_m == new.buffer_m


def _to_frames(geometries: np.ndarray, lon0: np.ndarray, lat0: np.ndarray, kx: np.ndarray) -> list:
    """Each geometry moved into its own zone's metric frame, all coordinates in one array pass."""
    if not len(geometries):
        return []
    coords, owner = shapely.get_coordinates(geometries, return_index=True)
    coords = (coords - np.column_stack([lon0[owner], lat0[owner]])) * np.column_stack(
        [kx[owner], np.full(len(owner), METRES_PER_DEGREE)]
    )
    return list(shapely.set_coordinates(geometries.copy(), coords))


def _us(moment, default: int) -> int:
    return default if moment is None else int(moment.timestamp() * 1_000_000)


@dataclass
class Observations:
    """What one batch says about each person's tracks: one row per (track, fix), ordered by track
    then time. A track is (supervisee, zone): for inclusion, the lowest id among the binding zones."""

    supervisee_id: np.ndarray
    zone_id: np.ndarray
    ts_us: np.ndarray
    status: np.ndarray  # the outer area's side (inclusion: the union of the binding zones)
    inner: np.ndarray  # exclusion: the side of the zone itself within its warning ring
    fix: np.ndarray  # index into the batch's fix columns
    by_person: np.ndarray | None = None  # the batch's fixes in person-then-time order, if known

    def __len__(self) -> int:
        return len(self.ts_us)


def _segments(keys: np.ndarray) -> np.ndarray:
    """Start of each run of equal keys in a sorted array."""
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.empty(0, dtype=np.int64)


def person_then_time(supervisee_id: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
    """The order of fixes by person, then time: one sort of a packed key when the batch spans less
    than 2^40 µs (12 days), which is nearly always, else a two-key sort."""
    if not len(ts_us):
        return np.empty(0, dtype=np.int64)
    since = ts_us - ts_us.min()
    if since.max() < 1 << 40 and supervisee_id.max() < 1 << 23 and supervisee_id.min() >= 0:
        return np.argsort((supervisee_id << 40) | since)
    return np.lexsort((ts_us, supervisee_id))


def observe(index: ZoneIndex, fixes: dict[str, np.ndarray], default_accuracy_m: float) -> Observations:
    """Classify a batch of fixes (in any order) against every zone in force at each fix's time."""
    # Pairs in person-then-time order, so that each track's observations come out nearly sorted.
    by_person = person_then_time(fixes["supervisee_id"], fixes["ts_us"])
    fix, z = index.pairs(fixes["supervisee_id"][by_person])
    fix = by_person[fix]
    ts = fixes["ts_us"][fix]
    keep = index.in_force(z, ts)
    fix, z, ts = fix[keep], z[keep], ts[keep]
    lon, lat = fixes["lon"][fix], fixes["lat"][fix]
    accuracy = np.nan_to_num(fixes["accuracy_m"][fix], nan=default_accuracy_m)
    x, y = index.local_xy(z, lon, lat)
    status = index.outer.classify(z, x, y, accuracy)
    inner = status.copy()
    ringed = np.flatnonzero(index.buffered[z] & (status != OUTSIDE))
    inner[ringed] = index.inner.classify(z[ringed], x[ringed], y[ringed], accuracy[ringed])

    # Inclusion: per fix, the binding tier and whether the person is inside any zone of it.
    inc = np.flatnonzero(~index.exclusion[z])
    inc_fix, inc_zone = fix[inc], z[inc]
    starts = _segments(inc_fix)
    priority = index.priority[inc_zone]
    tier = np.repeat(np.maximum.reduceat(priority, starts), np.diff(np.r_[starts, len(inc)])) if len(inc) else priority
    binding = (priority == tier) | index.leave[inc_zone]
    b_fix, b_zone, b_status = inc_fix[binding], inc_zone[binding], status[inc][binding]
    b_starts = _segments(b_fix)
    # The track is named by its lowest-id binding zone, a travel leave only when nothing else binds.
    rank = index.zone_id[b_zone] + np.where(index.leave[b_zone], 1 << 40, 0)
    track_zone = np.minimum.reduceat(rank, b_starts) & ((1 << 40) - 1) if len(b_fix) else rank
    union = np.maximum.reduceat(b_status, b_starts) if len(b_fix) else b_status
    inc_fixes = b_fix[b_starts] if len(b_fix) else b_fix

    exc = np.flatnonzero(index.exclusion[z])
    obs_fix = np.concatenate([inc_fixes, fix[exc]])
    obs_zone = np.concatenate([track_zone, index.zone_id[z[exc]]])
    person = fixes["supervisee_id"][obs_fix]
    ts_all = fixes["ts_us"][obs_fix]
    # Each block is already in person-then-time order: a stable sort by track merges them cheaply.
    order = np.argsort((person << 32) | obs_zone, kind="stable")
    return Observations(
        supervisee_id=person[order],
        zone_id=obs_zone[order],
        ts_us=ts_all[order],
        status=np.concatenate([union, status[exc]])[order],
        inner=np.concatenate([union, inner[exc]])[order],
        fix=obs_fix[order],
        by_person=by_person,
    )
