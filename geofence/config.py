"""Geofence settings (EWALL_GEOFENCE_*), and the thresholds the engine takes from them."""

from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Bounds of the settings: beyond them no rule means anything, and the engine's times overflow.
Fixes = Annotated[int, Field(ge=1, le=1000)]
Seconds = Annotated[float, Field(ge=0, le=7 * 24 * 3600)]
Metres = Annotated[float, Field(ge=0, le=100_000)]


@dataclass(frozen=True)
class Thresholds:
    """How much evidence confirms a violation and its end: the settings below of the same names (their
    meaning and defaults are there), held as plain attributes for the engine's inner loop."""

    exit_confirm_fixes: int
    exit_confirm_s: float
    return_confirm_fixes: int
    return_confirm_s: float
    evidence_interval_s: float
    exit_confirm_far_fixes: int = 0  # 0: never fewer
    exit_confirm_far_m: float = 0.0
    # Whether the run's centroid must be surely on the wrong side too (off only for comparisons).
    centroid_check: bool = True


class GeofenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EWALL_GEOFENCE_", extra="ignore")

    # Fixes that report no accuracy are assumed this uncertain.
    default_accuracy_m: Annotated[float, Field(gt=0, le=100_000)] = 30.0
    zone_reload_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    # A violation (out of the wall, into a barred place) is confirmed by this many consecutive fixes
    # whose accuracy circles are wholly on the wrong side, spanning at least this long; its end by
    # as many back on the right side. Uncertain fixes neither count nor reset.
    exit_confirm_fixes: Fixes = 3
    exit_confirm_s: Seconds = 60.0
    # Out of the wall, this many such fixes confirm when each is also this far beyond the edge.
    exit_confirm_far_fixes: Annotated[int, Field(ge=0, le=1000)] = 2
    exit_confirm_far_m: Metres = 50.0
    return_confirm_fixes: Fixes = 2
    return_confirm_s: Seconds = 30.0
    # While a violation lasts, fresh evidence (position, distance) is sent at most this often.
    evidence_interval_s: Seconds = 60.0
    # A quiet track's snapshot row stays this long after its last write, so that a worker finishing
    # a late batch for people it no longer owns cannot bring back a state their new owner ended.
    tombstone_keep_s: Seconds = 3600.0

    def thresholds(self) -> Thresholds:
        """The engine's thresholds, as set."""
        settings = type(self).model_fields
        return Thresholds(**{f.name: getattr(self, f.name) for f in fields(Thresholds) if f.name in settings})


@lru_cache
def get_geofence_settings() -> GeofenceSettings:
    return GeofenceSettings()
