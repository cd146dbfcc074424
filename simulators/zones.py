"""A simulated person's zones as GeoJSON, as the platform stores them (WGS-84 lon/lat)."""

import numpy as np
import shapely
from shapely.geometry import LineString, mapping

from simulators.fleet import CURFEW, CURFEW_RADIUS_M, Fleet

SIDES = 64
LEAVE_CORRIDOR_M = 1500.0
LEAVE_DESTINATION_M = 3000.0
CURFEW_PRIORITY = 10


def _polygon(fleet: Fleet, x: np.ndarray, y: np.ndarray) -> dict:
    lon, lat = fleet.city.to_lonlat(np.append(x, x[0]), np.append(y, y[0]))
    return {"type": "Polygon", "coordinates": [np.column_stack([lon, lat]).tolist()]}


def circle(fleet: Fleet, centre: np.ndarray, radius_m: float) -> dict:
    """A circle as a polygon whose edges stay outside ``radius_m`` (circumscribed), so whatever the
    simulator calls inside the circle is inside the polygon too."""
    angle = np.linspace(0, 2 * np.pi, SIDES, endpoint=False)
    outer = radius_m / np.cos(np.pi / SIDES)
    return _polygon(fleet, centre[0] + outer * np.cos(angle), centre[1] + outer * np.sin(angle))


def person_zones(fleet: Fleet, p: int) -> list[dict]:
    """Zone definitions for person ``p``: the electronic wall, any barred place, the curfew area."""
    zones = [
        {
            "name": "电子墙 electronic wall",
            "kind": "inclusion",
            "geometry": circle(fleet, fleet.zone_centre[p], fleet.zone_radius[p]),
        }
    ]
    if not np.isnan(fleet.exclusion_centre[p, 0]):
        zones.append(
            {
                "name": "禁入区 barred place",
                "kind": "exclusion",
                "severity": "red",
                "geometry": circle(fleet, fleet.exclusion_centre[p], fleet.exclusion_radius[p]),
            }
        )
    zones.append(
        {
            "name": "宵禁 curfew at home",
            "kind": "inclusion",
            "priority": CURFEW_PRIORITY,  # binds above the wall while in force
            "geometry": circle(fleet, fleet.home[p], CURFEW_RADIUS_M),
            "schedule": {
                "weekly": [
                    {"days": list(range(7)), "from": f"{CURFEW[0] // 3600:02d}:00", "to": f"{CURFEW[1] // 3600:02d}:00"}
                ]
            },
        }
    )
    return zones


def leave_zone(episode: dict) -> dict:
    """The approved travel-leave area of an ``approved_leave`` ground-truth episode: the route there
    and back, and the destination (lon/lat in, GeoJSON out)."""
    route = np.array(episode["leave"]["route"])
    mid_lat = float(route[:, 1].mean())
    scale = np.array([111_320 * np.cos(np.radians(mid_lat)), 110_574])
    metres = LineString(route * scale)
    area = shapely.union(metres.buffer(LEAVE_CORRIDOR_M), shapely.Point(metres.coords[-1]).buffer(LEAVE_DESTINATION_M))
    area = shapely.transform(area, lambda xy: xy / scale)
    return mapping(area)
