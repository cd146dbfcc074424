"""The compiled zone index and the per-person state: classify fixes against zones, vectorised,
and turn classifications into enter/exit events without flapping on uncertain fixes."""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity

from geofence.models import ZoneKind
from geofence.service import RuleZone

INSIDE, UNCERTAIN, OUTSIDE = 1, 0, -1
BAND_M = 250.0
METRES_PER_DEGREE = 6_371_008.8 * math.pi / 180


@dataclass
class CompiledZone:
    """A zone in a local metric frame centred on it (equirectangular: accurate to well under a
    metre over a city-sized zone), prepared for fast point tests."""

    zone: RuleZone
    lon0: float
    lat0: float
    kx: float
    ky: float
    area_m: shapely.Geometry
    boundary_m: shapely.Geometry
    # The area shrunk and grown by BAND_M: a fix deep inside the first or outside the second, with an
    # accuracy under BAND_M, is decided by a point-in-polygon test alone; only fixes near the wall
    # pay for a distance.
    core_m: shapely.Geometry
    hull_m: shapely.Geometry

    @classmethod
    def compile(cls, zone: RuleZone) -> "CompiledZone":
        centre = zone.geometry.centroid
        kx = METRES_PER_DEGREE * math.cos(math.radians(centre.y))
        ky = METRES_PER_DEGREE
        local = affinity.affine_transform(zone.geometry, [kx, 0, 0, ky, -centre.x * kx, -centre.y * ky])
        if zone.kind == ZoneKind.inclusion and zone.buffer_m > 0:
            # An inclusion zone's buffer is tolerance outwards: the wall is that much further out.
            local = local.buffer(zone.buffer_m)
        boundary = local.boundary
        core, hull = local.buffer(-BAND_M), local.buffer(BAND_M)
        for geometry in (local, boundary, core, hull):
            shapely.prepare(geometry)
        return cls(zone, centre.x, centre.y, kx, ky, local, boundary, core, hull)

    def local_xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def distance_m(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Distance from each fix to the zone's boundary, in metres."""
        return shapely.distance(self.boundary_m, shapely.points(*self.local_xy(lon, lat)))

    def classify(self, lon: np.ndarray, lat: np.ndarray, accuracy_m: np.ndarray) -> np.ndarray:
        """Per fix: INSIDE / OUTSIDE when its whole accuracy circle is on one side, else UNCERTAIN."""
        x, y = self.local_xy(lon, lat)
        status = np.full(len(x), UNCERTAIN, dtype=np.int8)
        sure = accuracy_m < BAND_M
        status[sure & shapely.contains_xy(self.core_m, x, y)] = INSIDE
        status[sure & ~shapely.contains_xy(self.hull_m, x, y)] = OUTSIDE
        near = np.flatnonzero(status == UNCERTAIN)
        if len(near):
            inside = shapely.contains_xy(self.area_m, x[near], y[near])
            clear = shapely.distance(self.boundary_m, shapely.points(x[near], y[near])) > accuracy_m[near]
            status[near[clear]] = np.where(inside[clear], INSIDE, OUTSIDE)
        return status


class ZoneIndex:
    def __init__(self, zones: Iterable[RuleZone]):
        self.by_supervisee: dict[int, list[CompiledZone]] = defaultdict(list)
        for zone in zones:
            self.by_supervisee[zone.supervisee_id].append(CompiledZone.compile(zone))


@dataclass(frozen=True, slots=True)
class ZoneEvent:
    supervisee_id: int
    zone_id: int
    zone_kind: str
    severity: str
    kind: str  # "enter" | "exit"
    ts_us: int
    lat: float
    lon: float
    accuracy_m: float
    distance_m: float

    @property
    def event_id(self) -> str:
        return f"{self.supervisee_id}:{self.zone_id}:{self.ts_us}:{self.kind}"

    def as_dict(self) -> dict:
        return {
            "id": self.event_id,
            "supervisee_id": self.supervisee_id,
            "zone_id": self.zone_id,
            "zone_kind": self.zone_kind,
            "severity": self.severity,
            "kind": self.kind,
            "ts_us": self.ts_us,
            "lat": self.lat,
            "lon": self.lon,
            "accuracy_m": self.accuracy_m,
            "distance_m": self.distance_m,
        }


class ZoneStates:
    """Last confirmed side (INSIDE/OUTSIDE) and fix time per (supervisee, zone).

    Uncertain fixes never change the side; fixes older than the last one seen are ignored, so
    late and duplicate deliveries do not produce events.
    """

    def __init__(self) -> None:
        self._state: dict[tuple[int, int], tuple[int, int]] = {}

    def advance(
        self,
        zone: CompiledZone,
        ts_us: np.ndarray,
        lat: np.ndarray,
        lon: np.ndarray,
        accuracy_m: np.ndarray,
        status: np.ndarray,
    ) -> list[ZoneEvent]:
        """Feed one person's fixes for one zone, sorted by time; return the side changes."""
        key = (zone.zone.supervisee_id, zone.zone.id)
        side, last_ts = self._state.get(key, (UNCERTAIN, -1))
        counted = np.flatnonzero((status != UNCERTAIN) & (ts_us > last_ts))
        sides = status[counted]
        changes = counted[sides != np.r_[side, sides[:-1]]]
        if len(sides):
            side = int(sides[-1])
        if len(ts_us):
            last_ts = max(last_ts, int(ts_us.max()))
        self._state[key] = (side, last_ts)
        if not len(changes):
            return []
        distance = zone.distance_m(lon[changes], lat[changes])
        return [
            ZoneEvent(
                zone.zone.supervisee_id,
                zone.zone.id,
                zone.zone.kind.value,
                zone.zone.severity.value,
                "enter" if status[i] == INSIDE else "exit",
                int(ts_us[i]),
                float(lat[i]),
                float(lon[i]),
                float(accuracy_m[i]),
                float(d),
            )
            for i, d in zip(changes, distance, strict=True)
        ]


def evaluate(
    index: ZoneIndex, states: ZoneStates, fixes: dict[str, np.ndarray], default_accuracy_m: float
) -> list[ZoneEvent]:
    """Classify a batch of fixes against each person's zones and advance their states."""
    supervisee = fixes["supervisee_id"]
    order = np.lexsort((fixes["ts_us"], supervisee))
    supervisee = supervisee[order]
    ts_us, lat, lon = fixes["ts_us"][order], fixes["lat"][order], fixes["lon"][order]
    accuracy = np.nan_to_num(fixes["accuracy_m"][order], nan=default_accuracy_m)
    people, starts = np.unique(supervisee, return_index=True)
    ends = np.append(starts[1:], len(supervisee))
    events: list[ZoneEvent] = []
    for person, start, end in zip(people.tolist(), starts, ends, strict=True):
        for zone in index.by_supervisee.get(person, ()):
            window = slice(start, end)
            status = zone.classify(lon[window], lat[window], accuracy[window])
            events.extend(states.advance(zone, ts_us[window], lat[window], lon[window], accuracy[window], status))
    return events
