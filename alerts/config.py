"""Alert settings (EWALL_ALERT_*): the default thresholds every district and risk level starts from
(overrides live in the alert_policy table), and the limits of the lifecycle."""

from functools import lru_cache
from typing import Annotated

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every threshold is positive and bounded: beyond these no rule means anything, and larger values
# overflow timedelta or the database's int4 (a saved 10**12 minutes wedged the watchdog for everyone).
Minutes = Annotated[int, Field(gt=0, le=90 * 24 * 60)]  # at most 90 days
Metres = Annotated[float, Field(gt=0, le=1_000_000)]  # at most 1,000 km
Count = Annotated[int, Field(gt=0, le=1000)]
Days = Annotated[int, Field(gt=0, le=366)]


def _also(old_name: str) -> AliasChoices:
    # Deployments already set these two under their first, unprefixed names; both keep working.
    return AliasChoices(f"EWALL_ALERT_{old_name}", f"EWALL_{old_name}")


class AlertSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EWALL_ALERT_", extra="ignore")

    # Outside the electronic wall: red after this long or this far out.
    inclusion_red_after_min: Minutes = 30
    inclusion_red_distance_m: Metres = 2000.0
    # No fix (脱管): yellow after this long, red after that long.
    signal_lost_yellow_min: Minutes = Field(60, validation_alias=_also("SIGNAL_LOST_YELLOW_MIN"))
    signal_lost_red_min: Minutes = Field(6 * 60, validation_alias=_also("SIGNAL_LOST_RED_MIN"))
    # This many yellows within that many days make the last one red.
    repeat_yellow_count: Count = 3
    repeat_yellow_days: Days = 7
    # Unacknowledged for this long from the episode's start, an alert escalates to the supervisor.
    ack_sla_red_min: Minutes = 15
    ack_sla_yellow_min: Minutes = 24 * 60

    # A whole gateway or district silent at once (one platform alert to command staff instead of a
    # personal one each): at least this share, and at least this many, of its active monitored people
    # whose last fixes all fall within this span, and quiet for at least this long since the newest.
    group_silent_share_pct: Annotated[float, Field(gt=0, le=100)] = 80.0
    group_silent_min_people: Count = 5
    group_silent_window_min: Minutes = 10
    group_silent_after_min: Minutes = 10
    # (Platform outages use core's thresholds: ready_heartbeat_max_age_s, ready_max_lag_records.)

    # A suspension of a person's alerts may reach at most this far ahead; longer needs a renewal.
    suspension_max_days: Days = 7


@lru_cache
def get_alert_settings() -> AlertSettings:
    return AlertSettings()
