"""A simulated fleet as the geofence engine sees it, for the benchmarks that run it in-process:
each person's zones as the platform would store them, and the simulator's fixes as the ingest
app would hand them on (WGS-84, microseconds, supervisee ids)."""

from datetime import UTC, datetime

import numpy as np
from shapely.geometry import MultiPolygon, shape

from core.datum import to_wgs84
from geofence.models import ZoneKind
from geofence.service import RuleZone
from simulators import zones
from simulators.fleet import DATUMS, Fleet
from simulators.stream import Chunk

ZONES_PER_PERSON = 3  # zone ids: person * ZONES_PER_PERSON + n; travel leaves are numbered after all


def supervisee_id(person: int | np.ndarray):
    return person + 1


def _rule_zone(zone_id: int, person: int, zone: dict) -> RuleZone:
    geometry = shape(zone["geometry"])
    return RuleZone(
        id=zone_id,
        kind=ZoneKind(zone["kind"]),
        supervisee_ids=(supervisee_id(person),),
        geometry=geometry if isinstance(geometry, MultiPolygon) else MultiPolygon([geometry]),
        schedule=zone.get("schedule"),
        priority=zone.get("priority", 0),
        travel_leave=zone.get("travel_leave", False),
        valid_from=zone.get("valid_from"),
        valid_to=zone.get("valid_to"),
    )


def rule_zones(fleet: Fleet) -> list[RuleZone]:
    """Every person's electronic wall, barred place and curfew."""
    return [
        _rule_zone(p * ZONES_PER_PERSON + n, p, zone)
        for p in range(fleet.size)
        for n, zone in enumerate(zones.person_zones(fleet, p))
    ]


def leave_zones(fleet: Fleet, episodes: list[dict], first_id: int) -> list[RuleZone]:
    """The travel leave approved for each ``approved_leave`` episode, as an officer would register it,
    numbered from ``first_id``."""
    leaves = [e for e in episodes if e["kind"] == "approved_leave"]
    return [
        _rule_zone(
            first_id + n,
            fleet.codes.index(e["supervisee"]),
            {
                "kind": "inclusion",
                "geometry": zones.leave_zone(e),
                "travel_leave": True,
                "valid_from": datetime.fromtimestamp(e["leave"]["from"], UTC),
                "valid_to": datetime.fromtimestamp(e["leave"]["to"], UTC),
            },
        )
        for n, e in enumerate(leaves)
    ]


def fix_columns(chunk: Chunk) -> dict[str, np.ndarray]:
    """A chunk's fixes in arrival order, in the columns the engine reads."""
    fixes = chunk.fixes
    datum = np.array(DATUMS)[fixes["datum"]]
    lon, lat = to_wgs84(fixes["lon"], fixes["lat"], datum)
    return {
        "supervisee_id": supervisee_id(fixes["person"].astype(np.int64)),
        "ts_us": (fixes["ts"] * 1e6).astype(np.int64),
        "lat": np.asarray(lat, dtype=float),
        "lon": np.asarray(lon, dtype=float),
        "accuracy_m": fixes["accuracy_m"].astype(float),
        "sent_us": (fixes["sent"] * 1e6).astype(np.int64),
    }
