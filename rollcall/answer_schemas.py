"""Wire formats of the staff routes for answer photos and identity verification."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from rollcall.models import AnswerVia, TargetStatus, Verification


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirmed: bool  # true: the photo shows the supervisee; false: it does not (identity_check_failed, red)
    note: Annotated[str | None, Field(max_length=2000)] = None


class VerificationOut(BaseModel):
    """An answer whose photo is (or was) to be compared with the enrolment photo."""

    model_config = ConfigDict(from_attributes=True)

    target_id: int
    roll_call_id: int
    supervisee_id: int
    person_code: str
    person_name: str
    status: TargetStatus
    answered_at: datetime | None
    answered_via: AnswerVia | None
    answer_lat: float | None
    answer_lon: float | None
    answer_accuracy_m: float | None
    tracker_distance_m: float | None
    separated: bool | None
    verification: Verification
    verified_by: int | None
    verified_at: datetime | None
    verification_note: str | None
    has_photo: bool
    has_enrolment_photo: bool
