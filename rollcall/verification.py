"""Identity verification of answer photos (is it the supervisee?), as an interface: the configured
``Verifier`` (setting ``EWALL_ROLLCALL_VERIFIER``, a dotted class path) sees each batch of answer photos
beside the enrolment photos and may give verdicts itself (a face-match service); whatever it leaves
open is queued for an officer to confirm or reject."""

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from caseload import scope as caseload_scope
from caseload.models import EnrolmentPhoto, Officer, Supervisee
from rollcall.config import get_rollcall_settings
from rollcall.models import RollCallPhoto, RollCallTarget, Verification


@dataclass(frozen=True)
class PhotoPair:
    target_id: int
    supervisee_id: int
    photo: bytes
    photo_type: str
    enrolment_photo: bytes | None  # None: the person has no enrolment photo yet


class Verifier(Protocol):
    """Gives verdicts on a batch of answer photos. It runs inside the answers' write, so a slow service
    should return None (all queued) and post its verdicts later through POST /rollcall-targets/{id}/verify."""

    # Whether to load the enrolment photos for the batch (a queue needs none; a face matcher does).
    wants_enrolment_photos: bool

    def verify(self, batch: Sequence[PhotoPair]) -> Sequence[Verification | None] | None:
        """One verdict per pair (confirmed, rejected, or None to queue it), or None to queue them all."""
        ...


class QueueForOfficer:
    """The default: every photo waits for an officer to compare it with the enrolment photo."""

    wants_enrolment_photos = False

    def verify(self, batch: Sequence[PhotoPair]) -> None:
        return None


@cache
def _configured(path: str) -> Verifier:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)()


def get_verifier() -> Verifier:
    """The verifier named by EWALL_ROLLCALL_VERIFIER (one instance per process)."""
    return _configured(get_rollcall_settings().verifier)


def enrolment_photos(session: Session, supervisee_ids: Sequence[int]) -> dict[int, bytes]:
    rows = session.execute(
        select(EnrolmentPhoto.supervisee_id, EnrolmentPhoto.content).where(
            EnrolmentPhoto.supervisee_id.in_(set(supervisee_ids))
        )
    )
    return dict(rows.all())


def verdicts(session: Session, pairs: Sequence[PhotoPair], verifier: Verifier | None = None) -> list[Verification]:
    """The verification state of each answer photo: the verifier's verdict, else queued for an officer."""
    verifier = verifier or get_verifier()
    if verifier.wants_enrolment_photos:
        enrolled = enrolment_photos(session, [p.supervisee_id for p in pairs])
        pairs = [
            PhotoPair(p.target_id, p.supervisee_id, p.photo, p.photo_type, enrolled.get(p.supervisee_id)) for p in pairs
        ]
    given = verifier.verify(pairs) or [None] * len(pairs)
    if len(given) != len(pairs):
        raise ValueError(f"the verifier gave {len(given)} verdicts for {len(pairs)} photos")
    return [
        verdict if verdict in (Verification.confirmed, Verification.rejected) else Verification.queued
        for verdict in given
    ]


def list_verifications(
    session: Session,
    *,
    viewer: Officer,
    status: Verification | None,
    limit: int,
    offset: int,
    target_id: int | None = None,
) -> list[dict]:
    """Answers with a photo in the viewer's caseload (by default those queued), oldest answer first: the
    officer's queue of photos to compare with the enrolment photos."""
    has_photo = exists().where(RollCallPhoto.target_id == RollCallTarget.id)
    has_enrolment = exists().where(EnrolmentPhoto.supervisee_id == RollCallTarget.supervisee_id)
    query = (
        select(
            RollCallTarget,
            Supervisee.code,
            Supervisee.full_name,
            has_photo.label("has_photo"),
            has_enrolment.label("has_enrolment_photo"),
        )
        .join(Supervisee, Supervisee.id == RollCallTarget.supervisee_id)
        .where(
            RollCallTarget.verification != Verification.not_needed,
            RollCallTarget.supervisee_id.in_(caseload_scope.visible_supervisee_ids(session=session, viewer=viewer)),
        )
        .order_by(RollCallTarget.answered_at, RollCallTarget.id)
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(RollCallTarget.verification == status)
    if target_id is not None:
        query = query.where(RollCallTarget.id == target_id)
    return [
        {
            **{column: getattr(target, column) for column in _TARGET_FIELDS},
            "target_id": target.id,
            "person_code": code,
            "person_name": name,
            "has_photo": photo,
            "has_enrolment_photo": enrolment,
        }
        for target, code, name, photo, enrolment in session.execute(query).tuples()
    ]


_TARGET_FIELDS = (
    "roll_call_id",
    "supervisee_id",
    "status",
    "answered_at",
    "answered_via",
    "answer_lat",
    "answer_lon",
    "answer_accuracy_m",
    "tracker_distance_m",
    "separated",
    "verification",
    "verified_by",
    "verified_at",
    "verification_note",
)
