"""Recording roll-call answers in batches: from the phone page (position, photo, the 人机分离 check
against the tracker, identity verification), from cameras and office check-ins (sightings), and the
officer's verdict on a photo. Each function returns the rollcall.v1 events (rollcall.answer_events)
for its caller to publish after committing."""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import BigInteger, BindParameter, Row, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from alerts import rules
from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Camera, CameraKind, Officer, PhonePageLink, Supervisee
from core.config import get_settings
from core.errors import Conflict, Forbidden, NotFound
from core.security import Role
from core.timezones import display_tz, utcnow
from rollcall import answer_events, deadlines, photos, verification
from rollcall.config import get_rollcall_settings
from rollcall.models import AnswerVia, RollCall, RollCallMode, RollCallTarget, TargetStatus, Verification
from tracker_ingest import tracks


@dataclass(frozen=True)
class PhoneAnswer:
    target_id: int
    supervisee_id: int  # the caller's, from their phone token
    link_id: int  # the sign-in link the token came from (revoked: refused)
    answered_at: datetime  # when the platform received it: what the deadline is judged by
    lat: float  # WGS-84, as the browser's geolocation gives it
    lon: float
    accuracy_m: float
    photo: bytes
    photo_type: str
    position_at: datetime | None = None  # the phone's time of the position, if it sent one


@dataclass(frozen=True)
class Refusal:
    status_code: int  # the HTTP status the phone gets
    detail: str


@dataclass(frozen=True)
class AnswerResult:
    target_id: int
    status: TargetStatus | None = None
    answered_at: datetime | None = None
    separated: bool | None = None
    refusal: Refusal | None = None


@dataclass
class Recorded:
    results: list[AnswerResult]
    events: list[dict]  # rollcall.v1, to publish after the commit


REVOKED = Refusal(401, "this phone's sign-in has ended (the link was revoked): ask your officer for a new one")
NOT_YOURS = Refusal(404, "no such roll call for you")
ALREADY = Refusal(409, "this roll call has already been answered")
CANCELLED = Refusal(409, "this roll call was cancelled: nothing to answer")
EXCUSED = Refusal(409, "you were excused from this roll call: nothing to answer")
_ELSEWHERE = {
    RollCallMode.camera: Refusal(409, "this roll call is answered by going to a camera, not on the phone"),
    RollCallMode.office: Refusal(409, "this roll call is answered by reporting at the office (报到), not on the phone"),
}


def is_separated(
    distance_m: float, answer_accuracy_m: float, fix_accuracy_m: float | None, separation_m: float
) -> bool:
    """人机分离: the phone and the tracker further apart than the threshold even if each position is off
    by its whole accuracy towards the other."""
    return distance_m - answer_accuracy_m - (fix_accuracy_m or 0.0) > separation_m


def status_at(answered_at: datetime, deadline_at: datetime, closes_at: datetime) -> TargetStatus:
    """On time by the deadline, late until the roll call closes, missed after."""
    if answered_at <= deadline_at:
        return TargetStatus.answered
    return TargetStatus.late if answered_at <= closes_at else TargetStatus.missed


def _answerable(target: Row) -> Refusal | None:
    if target.cancelled_at is not None:
        return CANCELLED
    if target.mode != RollCallMode.phone:
        return _ELSEWHERE[target.mode]
    if target.status == TargetStatus.excused:
        return EXCUSED
    if target.answered_at is not None or target.status in (TargetStatus.answered, TargetStatus.late):
        return ALREADY
    return None


def _ids(values) -> BindParameter:
    return bindparam("ids", sorted(set(values)), type_=ARRAY(BigInteger))


def _open_targets(session: Session, target_ids: Sequence[int]) -> dict[int, Row]:
    """The targets with their roll call's mode, locked (in id order) until the batch commits."""
    rows = session.execute(
        select(
            RollCallTarget.id,
            RollCallTarget.supervisee_id,
            RollCallTarget.roll_call_id,
            RollCallTarget.status,
            RollCallTarget.answered_at,
            RollCallTarget.deadline_at,
            RollCallTarget.closes_at,
            RollCall.mode,
            RollCall.cancelled_at,
        )
        .join(RollCall, RollCall.id == RollCallTarget.roll_call_id)
        .where(RollCallTarget.id == any_(_ids(target_ids)))
        .order_by(RollCallTarget.id)
        .with_for_update(of=RollCallTarget)
    )
    return {row.id: row for row in rows}


def _live_links(session: Session, link_ids: Sequence[int]) -> dict[int, int]:
    """link id → supervisee id, for the links not revoked."""
    rows = session.execute(
        select(PhonePageLink.id, PhonePageLink.supervisee_id).where(
            PhonePageLink.id == any_(_ids(link_ids)), PhonePageLink.revoked_at.is_(None)
        )
    )
    return dict(rows.all())


def _tracker_checks(session: Session, answers: list[dict], asked: list[PhoneAnswer]) -> list[float | None]:
    """Fill in the tracker's position, distance and ``separated`` of each answer; returns each fix's
    accuracy (for the evidence)."""
    settings = get_rollcall_settings()
    window = timedelta(minutes=settings.tracker_window_min)
    moments = [(a.supervisee_id, a.position_at or a.answered_at) for a in asked]
    fixes = tracks.nearest_fixes(session, moments=moments, window=window)
    found = [i for i, fix in enumerate(fixes) if fix is not None]
    if found:
        distances = tracks.haversine_m(
            np.array([asked[i].lat for i in found]),
            np.array([asked[i].lon for i in found]),
            np.array([fixes[i].lat for i in found]),
            np.array([fixes[i].lon for i in found]),
        )
        for i, distance in zip(found, distances.tolist(), strict=True):
            fix, answer = fixes[i], answers[i]
            answer.update(
                tracker_lat=fix.lat,
                tracker_lon=fix.lon,
                tracker_ts=fix.ts,
                tracker_distance_m=round(distance, 1),
                separated=is_separated(distance, asked[i].accuracy_m, fix.accuracy_m, settings.separation_m),
            )
    return [fix.accuracy_m if fix else None for fix in fixes]


def _outcomes(answer: dict, was_missed: bool, fix_accuracy_m: float | None) -> list[dict]:
    events = [answer_events.answered(answer)]
    if answer["status"] == TargetStatus.late:
        late_s = (answer["answered_at"] - answer["deadline_at"]).total_seconds()
        events.append(
            answer_events.outcome(
                rules.ROLLCALL_LATE, answer, {"late_s": round(late_s), "via": answer["answered_via"].value}
            )
        )
    elif answer["status"] == TargetStatus.missed and not was_missed:
        # Answered after the close, before the deadline timer got to it: missed, raised here as the timer would.
        events.append(
            deadlines.missed_event(
                target_id=answer["id"],
                roll_call_id=answer["roll_call_id"],
                supervisee_id=answer["supervisee_id"],
                deadline_at=answer["deadline_at"],
                closes_at=answer["closes_at"],
                mode=answer["answered_via"].value,
            )
        )
    if answer.get("separated"):
        evidence = {"check": "location", **answer_events.position_evidence(answer, fix_accuracy_m)}
        events.append(answer_events.outcome(rules.IDENTITY_CHECK_FAILED, answer, evidence))
    if answer["verification"] == Verification.rejected:
        evidence = {"check": "photo", "by": "face-match service"}
        events.append(answer_events.outcome(rules.IDENTITY_CHECK_FAILED, answer, evidence))
    return events


# An answer's columns, written for a whole batch by one UPDATE from arrays (enums travel as text).
_ANSWER_COLUMNS = {
    "status": "roll_call_target_status",
    "answered_at": "timestamptz",
    "answered_via": "roll_call_answer_via",
    "answer_lat": "float8",
    "answer_lon": "float8",
    "answer_accuracy_m": "float8",
    "camera_id": "integer",
    "tracker_lat": "float8",
    "tracker_lon": "float8",
    "tracker_ts": "timestamptz",
    "tracker_distance_m": "float8",
    "separated": "boolean",
    "verification": "roll_call_verification",
    "verified_at": "timestamptz",
}
_ARRAY_TYPES = {"roll_call_target_status": "text", "roll_call_answer_via": "text", "roll_call_verification": "text"}
_WRITE = text(
    "UPDATE roll_call_target t SET "
    + ", ".join(f"{column} = v.{column}::{kind}" for column, kind in _ANSWER_COLUMNS.items())
    + " FROM unnest(CAST(:id AS bigint[]), "
    + ", ".join(f"CAST(:{column} AS {_ARRAY_TYPES.get(kind, kind)}[])" for column, kind in _ANSWER_COLUMNS.items())
    + ") AS v(id, "
    + ", ".join(_ANSWER_COLUMNS)
    + ") WHERE t.id = v.id"
)


def _write(session: Session, answers: list[dict]) -> None:
    if answers:
        columns = {"id": [a["id"] for a in answers]}
        for column in _ANSWER_COLUMNS:
            columns[column] = [
                value.value if isinstance(value, enum.Enum) else value for value in (a.get(column) for a in answers)
            ]
        session.execute(_WRITE, columns)


def record_phone_answers(session: Session, answers: Sequence[PhoneAnswer]) -> Recorded:
    """Record a batch of phone answers in a few statements (flushes; the caller commits, then publishes
    ``events``). Each answer gets its result: the status it was recorded with, or why it was refused."""
    links = _live_links(session, [a.link_id for a in answers])
    targets = _open_targets(session, [a.target_id for a in answers])
    results: dict[int, AnswerResult] = {}
    accepted: list[tuple[int, PhoneAnswer, dict, bool]] = []
    taken: set[int] = set()
    for index, asked in enumerate(answers):
        found = targets.get(asked.target_id)
        refusal = None
        if links.get(asked.link_id) != asked.supervisee_id:
            refusal = REVOKED
        elif found is None or found.supervisee_id != asked.supervisee_id:
            refusal = NOT_YOURS
        elif asked.target_id in taken:
            refusal = ALREADY
        else:
            refusal = _answerable(found)
        if refusal is not None:
            results[index] = AnswerResult(asked.target_id, refusal=refusal)
            continue
        target = found
        taken.add(target.id)
        was_missed = target.status == TargetStatus.missed
        status = (
            TargetStatus.missed if was_missed else status_at(asked.answered_at, target.deadline_at, target.closes_at)
        )
        answer = {
            "id": target.id,
            "roll_call_id": target.roll_call_id,
            "supervisee_id": target.supervisee_id,
            "deadline_at": target.deadline_at,
            "closes_at": target.closes_at,
            "status": status,
            "answered_at": asked.answered_at,
            "answered_via": AnswerVia.phone,
            "answer_lat": asked.lat,
            "answer_lon": asked.lon,
            "answer_accuracy_m": asked.accuracy_m,
        }
        accepted.append((index, asked, answer, was_missed))
    fix_accuracies = _tracker_checks(session, [a for _, _, a, _ in accepted], [q for _, q, _, _ in accepted])
    pairs = [
        verification.PhotoPair(a["id"], a["supervisee_id"], q.photo, q.photo_type, None) for _, q, a, _ in accepted
    ]
    now = utcnow()
    for (_, _, answer, _), verdict in zip(accepted, verification.verdicts(session, pairs), strict=True):
        answer["verification"] = verdict
        answer["verified_at"] = now if verdict != Verification.queued else None
    _write(session, [a for _, _, a, _ in accepted])
    photos.store(
        session,
        [photos.NewPhoto(a["id"], q.photo_type, q.photo, q.position_at or q.answered_at) for _, q, a, _ in accepted],
    )
    events: list[dict] = []
    for (index, _, answer, was_missed), fix_accuracy_m in zip(accepted, fix_accuracies, strict=True):
        results[index] = AnswerResult(answer["id"], answer["status"], answer["answered_at"], answer.get("separated"))
        events += _outcomes(answer, was_missed, fix_accuracy_m)
    return Recorded([results[i] for i in range(len(answers))], events)


# Sightings: camera and office answers ------------------------------------------------------------


def _local_date(at: datetime):
    return at.astimezone(display_tz()).date()


def _answers_target(target, mode, issued_at, office_date, sighting: dict, camera_kind) -> bool:
    at = sighting["at"]
    if mode == RollCallMode.camera:
        return issued_at <= at <= target.closes_at
    checked_in = sighting["kind"] != "sighting" or camera_kind == CameraKind.office
    return checked_in and _local_date(at) == office_date


def record_sightings(session: Session, sightings: Sequence[dict]) -> list[dict]:
    """Answer camera and office roll calls from sightings.v1 records (confident ones only): a person seen
    by a camera between the call and its close, or checked in at the office on the 报到 date. Flushes;
    returns the events to publish after the caller's commit. A replayed sighting changes nothing."""
    threshold = get_settings().sighting_min_confidence
    seen = [
        {**s, "at": datetime.fromtimestamp(s["ts_us"] / 1_000_000, tz=UTC)}
        for s in sightings
        if s.get("confidence", 0) >= threshold
    ]
    if not seen:
        return []
    rows = session.execute(
        select(RollCallTarget, RollCall.mode, RollCall.issued_at, RollCall.office_date)
        .join(RollCall, RollCall.id == RollCallTarget.roll_call_id)
        .where(
            RollCallTarget.supervisee_id.in_({s["supervisee_id"] for s in seen}),
            RollCallTarget.answered_at.is_(None),
            RollCallTarget.status.in_((TargetStatus.pending, TargetStatus.missed)),
            RollCall.mode.in_((RollCallMode.camera, RollCallMode.office)),
            RollCall.cancelled_at.is_(None),
        )
        .order_by(RollCallTarget.id)
        .with_for_update(of=RollCallTarget)
    )
    cameras = {
        row.id: row
        for row in session.execute(
            select(Camera.id, Camera.kind, Camera.lat, Camera.lon, Camera.radius_m).where(
                Camera.id.in_({s["camera_id"] for s in seen})
            )
        )
    }
    by_person: dict[int, list[dict]] = {}
    for sighting in sorted(seen, key=lambda s: s["ts_us"]):
        by_person.setdefault(sighting["supervisee_id"], []).append(sighting)
    answers, events = [], []
    for target, mode, issued_at, office_date in rows:
        first = next(
            (
                s
                for s in by_person.get(target.supervisee_id, [])
                if s["camera_id"] in cameras
                and _answers_target(target, mode, issued_at, office_date, s, cameras[s["camera_id"]].kind)
            ),
            None,
        )
        if first is None:
            continue
        camera = cameras[first["camera_id"]]
        was_missed = target.status == TargetStatus.missed
        answer = {
            "id": target.id,
            "roll_call_id": target.roll_call_id,
            "supervisee_id": target.supervisee_id,
            "deadline_at": target.deadline_at,
            "closes_at": target.closes_at,
            "status": TargetStatus.missed
            if was_missed
            else status_at(first["at"], target.deadline_at, target.closes_at),
            "answered_at": first["at"],
            "answered_via": AnswerVia.camera if mode == RollCallMode.camera else AnswerVia.office,
            "answer_lat": camera.lat,
            "answer_lon": camera.lon,
            "answer_accuracy_m": camera.radius_m,
            "camera_id": camera.id,
            "verification": Verification.not_needed,
        }
        answers.append(answer)
        events += _outcomes(answer, was_missed, None)
    _write(session, answers)
    return events


# The officer's verdict ---------------------------------------------------------------------------


def verify(
    session: Session, viewer: Officer, target_id: int, confirmed: bool, note: str | None
) -> tuple[RollCallTarget, list[dict]]:
    """An officer confirms or rejects that an answer's photo shows the person (a rejection is red
    identity_check_failed); returns the target and the events to publish after the commit. 404 outside
    the viewer's caseload, 409 if there is no photo to judge."""
    target = session.scalars(
        select(RollCallTarget)
        .where(
            RollCallTarget.id == target_id,
            RollCallTarget.supervisee_id.in_(caseload_scope.visible_supervisee_ids(session=session, viewer=viewer)),
        )
        .with_for_update()
    ).first()
    if target is None:
        raise NotFound(f"roll-call target {target_id} not found")
    if viewer.role == Role.auditor:
        raise Forbidden("auditors read only: an officer of the person confirms or rejects the photo")
    if target.verification == Verification.not_needed:
        raise Conflict("this answer has no photo to verify (not answered yet, or answered at a camera or office)")
    target.verification = Verification.confirmed if confirmed else Verification.rejected
    target.verified_by, target.verified_at, target.verification_note = viewer.id, utcnow(), note
    session.flush()
    district_id = session.scalar(select(Supervisee.district_id).where(Supervisee.id == target.supervisee_id))
    caseload_service.record(
        session,
        viewer,
        "rollcall_target.verify",
        target_id,
        {"supervisee_id": target.supervisee_id, "confirmed": confirmed, "note": note},
        district_id=district_id,
    )
    if confirmed:
        return target, []
    answer = {"id": target.id, "roll_call_id": target.roll_call_id, "supervisee_id": target.supervisee_id}
    evidence = {"check": "photo", "by": f"officer:{viewer.id}", "note": note}
    return target, [answer_events.outcome(rules.IDENTITY_CHECK_FAILED, answer, evidence, at=target.verified_at)]
