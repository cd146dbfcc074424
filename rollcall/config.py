"""Roll-call settings (EWALL_ROLLCALL_*): deadlines per mode, the 人机分离 threshold, photo limits and
retention, and the phone page's sign-in links."""

from functools import lru_cache
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Minutes = Annotated[int, Field(gt=0, le=7 * 24 * 60)]


class RollCallSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EWALL_ROLLCALL_", extra="ignore")

    # An answer within deadline_min of the call is on time, within close_min late (yellow); none by
    # close_min is a missed roll call (red). Office (报到) roll calls count from the start of their date.
    phone_deadline_min: Minutes = 10
    phone_close_min: Minutes = 30
    camera_deadline_min: Minutes = 60
    camera_close_min: Minutes = 120
    office_deadline_min: Minutes = 24 * 60
    office_close_min: Minutes = 24 * 60
    # 人机分离: the answer's position and the tracker's at that moment (its nearest fix within
    # tracker_window_min) further apart than this, beyond both accuracies. With no such fix there is
    # nothing to compare: not flagged (the signal-lost rule covers a silent tracker).
    separation_m: Annotated[float, Field(gt=0, le=100_000)] = 500.0
    tracker_window_min: Minutes = 10
    # Answer photos: at most this big, JPEG or PNG or WebP, kept this long.
    photo_max_bytes: Annotated[int, Field(gt=0, le=8 * 1024 * 1024)] = 1024 * 1024
    photo_retention_days: Annotated[int, Field(gt=0, le=3660)] = 180
    # Who checks that the answer's photo shows the supervisee: a dotted path to a class implementing
    # rollcall.verification.Verifier (a face-match service's adapter); the default queues each photo
    # for an officer to compare with the enrolment photo.
    verifier: str = "rollcall.verification.QueueForOfficer"
    # The phone answer path gathers concurrent answers this long and writes them in one transaction.
    answer_linger_ms: Annotated[float, Field(ge=0, le=1000)] = 5.0
    # A phone page's one-time sign-in code is valid this long after the officer made it.
    link_code_ttl_hours: Annotated[int, Field(gt=0, le=30 * 24)] = 72
    # Who tells people of a roll call besides their phone page (an SMS gateway): the dotted path of a
    # class with notify(notices) (rollcall.notify.Notifier); the default only logs.
    notifier: str = "rollcall.notify.LoggingNotifier"
    # The rollcall worker's timers (deadlines, scheduled roll calls, redelivery) run this often.
    worker_interval_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    # Targets not yet delivered this long after the call (the broker was down) are delivered again.
    redeliver_after_s: Annotated[float, Field(gt=0, le=3600)] = 30.0


@lru_cache
def get_rollcall_settings() -> RollCallSettings:
    return RollCallSettings()
