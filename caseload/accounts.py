"""Signing in and out: throttled, audited password checks, password changes and resets, and revoking an
officer's tokens. Who may change other accounts (role ceilings) is in caseload.service."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from caseload.models import Officer, SignInThrottle
from core import audit
from core.config import get_settings
from core.errors import DomainError, Forbidden, Invalid, NotFound
from core.security import hash_password, new_password, verify_password
from core.timezones import utcnow


class Throttled(DomainError):
    status_code = 429

    def __init__(self, retry_after_s: int):
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class WrongCredentials(DomainError):
    status_code = 401

    def __init__(self):
        super().__init__("wrong username or password")


@dataclass(frozen=True)
class Source:
    """Where a sign-in came from, as the audit log records it."""

    address: str


def _account_key(username: str) -> str:
    return f"account:{username.strip().lower()[:160]}"


def _keys(username: str, source: Source) -> dict[str, int]:
    settings = get_settings()
    return {
        _account_key(username): settings.sign_in_max_failures,
        f"address:{source.address}": settings.sign_in_address_max_failures,
    }


def _check_throttle(session: Session, keys: dict[str, int], now: datetime) -> None:
    locked = session.scalars(
        select(SignInThrottle.locked_until).where(SignInThrottle.key.in_(keys), SignInThrottle.locked_until > now)
    ).all()
    if locked:
        raise Throttled(max(1, math.ceil((max(locked) - now).total_seconds())))


def _count_failure(session: Session, keys: dict[str, int], now: datetime) -> None:
    settings = get_settings()
    window = timedelta(seconds=settings.sign_in_window_s)
    # Counts that have run out are dropped, so usernames sprayed by a guesser do not pile up.
    session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.window_started_at < now - window,
            (SignInThrottle.locked_until.is_(None)) | (SignInThrottle.locked_until < now),
        )
    )
    for key, limit in keys.items():
        session.execute(
            insert(SignInThrottle)
            .values(key=key, failures=0, window_started_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = session.scalar(select(SignInThrottle).where(SignInThrottle.key == key).with_for_update())
        if row.window_started_at < now - window and (row.locked_until is None or row.locked_until < now):
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= limit:
            # Each failure past the limit doubles the lockout: a growing delay for a guesser.
            lockout_s = min(settings.sign_in_lockout_s * 2 ** (row.failures - limit), settings.sign_in_lockout_max_s)
            row.locked_until = now + timedelta(seconds=lockout_s)
    session.flush()


def _forget_failures(session: Session, username: str) -> None:
    # Only the account's count: a success must not let a guesser reset their address's count.
    session.execute(delete(SignInThrottle).where(SignInThrottle.key == _account_key(username)))


def _audit(session: Session, *, actor: str, action: str, officer: Officer | None, detail: dict) -> None:
    # Filed under the account's district, so that its auditors see who signed in (or tried) as its staff.
    audit.append(
        session,
        actor=actor,
        action=action,
        entity="officer",
        entity_id=officer.id if officer is not None else "",
        detail=detail,
        district_id=officer.district_id if officer is not None else None,
    )


def sign_in(*, session: Session, username: str, password: str, source: Source) -> Officer:
    """The officer with these credentials. Failures are counted, audited and raised; the caller commits
    either way, so that they count."""
    now = utcnow()
    keys = _keys(username, source)
    try:
        _check_throttle(session, keys, now)
    except Throttled:
        _audit_failure(session, username, source, "throttled", officer=None)
        raise
    officer = session.scalar(select(Officer).where(Officer.username == username))
    # The hash is checked even for unknown or disabled accounts, so the answer's timing says nothing.
    matches = verify_password(password, officer.password_hash if officer is not None else None)
    if officer is None or not matches or not officer.active:
        reason = "unknown_user" if officer is None else "wrong_password" if not matches else "account_disabled"
        _count_failure(session, keys, now)
        _audit_failure(session, username, source, reason, officer=officer)
        raise WrongCredentials()
    _forget_failures(session, username)
    _audit(
        session,
        actor=f"officer:{officer.id}",
        action="auth.sign_in",
        officer=officer,
        detail={"address": source.address, "must_change_password": officer.must_change_password},
    )
    return officer


def _audit_failure(session: Session, username: str, source: Source, reason: str, officer: Officer | None) -> None:
    _audit(
        session,
        actor=f"address:{source.address}",
        action="auth.sign_in_failed",
        officer=officer,
        detail={"username": username[:200], "address": source.address, "reason": reason},
    )


def revoke_sessions(officer: Officer) -> None:
    """Every token issued to this officer so far stops working."""
    officer.session_version += 1


def sign_out(*, session: Session, officer: Officer, source: Source) -> None:
    """End the officer's sessions: all their tokens, on every device, stop working."""
    revoke_sessions(officer)
    session.flush()
    _audit(
        session,
        actor=f"officer:{officer.id}",
        action="auth.sign_out",
        officer=officer,
        detail={"address": source.address, "tokens_revoked": True},
    )


def change_password(
    *, session: Session, officer: Officer, current_password: str, new_password: str, source: Source
) -> Officer:
    """The officer sets their own password; their other sessions end."""
    if not verify_password(current_password, officer.password_hash):
        raise Forbidden("the current password is wrong")
    if new_password == current_password:
        raise Invalid("the new password must differ from the current one")
    officer.password_hash = hash_password(new_password)
    officer.must_change_password = False
    revoke_sessions(officer)
    session.flush()
    _audit(
        session,
        actor=f"officer:{officer.id}",
        action="auth.password_change",
        officer=officer,
        detail={"address": source.address, "tokens_revoked": True},
    )
    return officer


def reset_password(*, session: Session, username: str, actor: str) -> str:
    """Give the account a generated password it must change at next sign-in (operators' recovery,
    ``./ewall passwd``); returns the password, which is not stored anywhere else."""
    officer = session.scalar(select(Officer).where(Officer.username == username))
    if officer is None:
        raise NotFound(f"no account named '{username}'")
    password = new_password()
    officer.password_hash = hash_password(password)
    officer.must_change_password = True
    revoke_sessions(officer)
    _forget_failures(session, username)
    session.flush()
    _audit(
        session,
        actor=actor,
        action="officer.password_reset",
        officer=officer,
        detail={"must_change_password": True, "tokens_revoked": True},
    )
    return password
