"""Set-up for the answer tests: roll calls, targets and phone sign-ins written straight through the
models (issuing and sign-in links are other parts' code), and the phone's HTTP answer."""

import base64
import hashlib
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx

from caseload.models import PhonePageLink
from core.db import session_scope
from core.security import create_phone_token
from core.timezones import utcnow
from rollcall.models import RollCall, RollCallKind, RollCallMode, RollCallTarget, TargetStatus

PHOTO = (Path(__file__).parents[2] / "bench" / "data" / "answer_photo.jpg").read_bytes()
PHOTO_B64 = base64.b64encode(PHOTO).decode()


def roll_call(
    supervisee_ids: list[int],
    *,
    mode: RollCallMode = RollCallMode.phone,
    issued_ago: timedelta = timedelta(minutes=1),
    deadline_min: int = 10,
    close_min: int = 30,
    office_date: date | None = None,
    status: TargetStatus = TargetStatus.pending,
) -> list[int]:
    """A roll call issued ``issued_ago``; returns its targets' ids in the order of ``supervisee_ids``."""
    issued_at = utcnow() - issued_ago
    with session_scope() as session:
        call = RollCall(
            kind=RollCallKind.ad_hoc,
            mode=mode,
            issued_at=issued_at,
            deadline_min=deadline_min,
            close_min=close_min,
            office_date=office_date,
            target_count=len(supervisee_ids),
        )
        session.add(call)
        session.flush()
        targets = [
            RollCallTarget(
                roll_call_id=call.id,
                supervisee_id=s,
                deadline_at=issued_at + timedelta(minutes=deadline_min),
                closes_at=issued_at + timedelta(minutes=close_min),
                status=status,
            )
            for s in supervisee_ids
        ]
        session.add_all(targets)
        session.flush()
        return [t.id for t in targets]


def phone_sign_in(supervisee_id: int) -> tuple[int, str]:
    """A redeemed sign-in link for the person and its phone token: (link id, token)."""
    with session_scope() as session:
        link = PhonePageLink(
            supervisee_id=supervisee_id,
            code_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
            code_expires_at=utcnow() + timedelta(hours=1),
            redeemed_at=utcnow(),
        )
        session.add(link)
        session.flush()
        return link.id, create_phone_token(supervisee_id=supervisee_id, link_id=link.id)


def answer(
    portal: httpx.Client,
    token: str | None,
    target_id: int,
    lat: float,
    lon: float,
    *,
    accuracy_m: float = 15,
    photo: str = PHOTO_B64,
    ts: datetime | None = None,
    **extra,
) -> httpx.Response:
    body = {"lat": lat, "lon": lon, "accuracy_m": accuracy_m, "photo": photo, "photo_type": "image/jpeg", **extra}
    if ts is not None:
        body["ts"] = ts.isoformat()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return portal.post(f"/api/v1/phone/rollcalls/{target_id}/answer", json=body, headers=headers)
