"""Geofence settings (EWALL_GEOFENCE_*)."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class GeofenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EWALL_GEOFENCE_", extra="ignore")

    # Fixes that report no accuracy are assumed this uncertain.
    default_accuracy_m: float = 30.0
    zone_reload_s: float = 2.0


@lru_cache
def get_geofence_settings() -> GeofenceSettings:
    return GeofenceSettings()
