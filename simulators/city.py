"""Where a simulated fleet lives: a named city, any bounding box, or the districts of a GeoJSON file.

Everything inside the simulator works in metres on a local plane (x east, y north) centred on the
city; at these sizes (tens of kilometres) the equirectangular approximation is off by centimetres,
far below GPS noise. Coordinates leave the simulator as WGS-84 lon/lat."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class City:
    name: str
    west: float
    south: float
    east: float
    north: float
    districts: tuple = ()  # shapely polygons (lon/lat) people live in; empty: the whole box

    @property
    def centre(self) -> tuple[float, float]:
        return (self.west + self.east) / 2, (self.south + self.north) / 2

    @property
    def _scale(self) -> tuple[float, float]:
        return METRES_PER_DEGREE_LON_EQUATOR * np.cos(np.radians(self.centre[1])), METRES_PER_DEGREE_LAT

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sx, sy = self._scale
        return self.centre[0] + np.asarray(x) / sx, self.centre[1] + np.asarray(y) / sy

    def to_xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sx, sy = self._scale
        return (np.asarray(lon) - self.centre[0]) * sx, (np.asarray(lat) - self.centre[1]) * sy

    @property
    def half_size_m(self) -> tuple[float, float]:
        sx, sy = self._scale
        return (self.east - self.west) / 2 * sx, (self.north - self.south) / 2 * sy

    def homes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Home positions (n, 2) in metres: people cluster in neighbourhoods, as in a real city."""
        half_w, half_h = self.half_size_m
        hubs = rng.uniform([-half_w * 0.7, -half_h * 0.7], [half_w * 0.7, half_h * 0.7], size=(24, 2))
        hub = rng.integers(0, len(hubs), n)
        spread = rng.uniform(300, 1500, 24)[hub]
        points = hubs[hub] + rng.normal(0, 1, (n, 2)) * spread[:, None]
        points = np.clip(points, [-half_w, -half_h], [half_w, half_h])
        if not self.districts:
            return points
        area = shapely.union_all(list(self.districts))
        inside = shapely.contains_xy(area, *self.to_lonlat(points[:, 0], points[:, 1]))
        while not inside.all():  # redraw homes that fell outside every district
            missing = np.flatnonzero(~inside)
            points[missing] = rng.uniform([-half_w, -half_h], [half_w, half_h], size=(len(missing), 2))
            inside[missing] = shapely.contains_xy(area, *self.to_lonlat(points[missing, 0], points[missing, 1]))
        return points


PRESETS = {
    # 本溪市 平山区/明山区/溪湖区: the urban valley of Benxi, Liaoning.
    "benxi": City("本溪 Benxi", 123.70, 41.26, 123.83, 41.34),
    # 高青县, Zibo, Shandong: a flat rural county with one town.
    "gaoqing": City("高青 Gaoqing", 117.74, 37.10, 117.90, 37.22),
}


def parse_city(spec: str) -> City:
    """``benxi`` / ``gaoqing``, ``bbox:west,south,east,north``, or a GeoJSON file of districts."""
    if spec in PRESETS:
        return PRESETS[spec]
    if spec.startswith("bbox:"):
        try:
            west, south, east, north = (float(v) for v in spec[5:].split(","))
        except ValueError:
            raise ValueError(f"bbox must be bbox:west,south,east,north in degrees, got {spec!r}") from None
        if not (-180 <= west < east <= 180 and -85 <= south < north <= 85):
            raise ValueError(f"bbox {spec!r} is not west < east, south < north within the globe")
        return City(f"bbox {spec[5:]}", west, south, east, north)
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"city {spec!r} is not one of {sorted(PRESETS)}, a bbox:w,s,e,n, or an existing GeoJSON file")
    data = json.loads(path.read_text())
    features = data.get("features", [data]) if isinstance(data, dict) else []
    polygons = [shape(f.get("geometry", f)) for f in features]
    polygons = [p for p in polygons if p.geom_type in ("Polygon", "MultiPolygon") and p.is_valid]
    if not polygons:
        raise ValueError(f"{spec} holds no valid Polygon or MultiPolygon")
    west, south, east, north = shapely.total_bounds(polygons)
    return City(path.stem, west, south, east, north, tuple(polygons))
