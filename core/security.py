"""Password hashing (argon2), access tokens (JWT), CSRF tokens, device tokens and generated device keys
(random, stored as SHA-256)."""

import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.config import get_settings
from core.timezones import utcnow

_hasher = PasswordHasher()
_JWT_ALGORITHM = "HS256"


class Role(enum.StrEnum):
    officer = "officer"
    supervisor = "supervisor"
    command = "command"
    auditor = "auditor"
    admin = "admin"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether the password matches; with no hash (unknown user) a dummy one is checked, so that
    the answer takes as long and does not tell which usernames exist."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A generated password for a new or reset account (about 95 bits)."""
    return secrets.token_urlsafe(12)


class InvalidToken(Exception):
    pass


def _secret() -> str:
    secret = get_settings().secret_key
    if not secret:
        raise RuntimeError("EWALL_SECRET_KEY is not set; run ./ewall up or set it in the environment")
    return secret


@dataclass(frozen=True)
class AccessClaims:
    officer_id: int
    # The officer's session version when the token was issued; bumping it revokes every older token.
    session_version: int


def create_access_token(*, officer_id: int, role: Role, session_version: int) -> str:
    ttl = timedelta(minutes=get_settings().access_token_ttl_min)
    claims = {"sub": str(officer_id), "role": role.value, "ver": session_version, "exp": utcnow() + ttl}
    return jwt.encode(claims, _secret(), algorithm=_JWT_ALGORITHM)


def decode_access_token(token: str) -> AccessClaims:
    """Who the token was issued to, and at which session version."""
    try:
        claims = jwt.decode(token, _secret(), algorithms=[_JWT_ALGORITHM])
        return AccessClaims(officer_id=int(claims["sub"]), session_version=int(claims["ver"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


@dataclass(frozen=True)
class PhoneClaims:
    """A supervisee's phone-page session: whose, and through which sign-in link (revoking the link
    ends the session)."""

    supervisee_id: int
    link_id: int


_PHONE_AUDIENCE = "phone"  # a staff token has no audience, so neither kind passes for the other


def create_phone_token(*, supervisee_id: int, link_id: int) -> str:
    ttl = timedelta(days=get_settings().phone_session_ttl_days)
    claims = {"sub": str(supervisee_id), "lnk": link_id, "aud": _PHONE_AUDIENCE, "exp": utcnow() + ttl}
    return jwt.encode(claims, _secret(), algorithm=_JWT_ALGORITHM)


def decode_phone_token(token: str) -> PhoneClaims:
    try:
        claims = jwt.decode(token, _secret(), algorithms=[_JWT_ALGORITHM], audience=_PHONE_AUDIENCE)
        return PhoneClaims(supervisee_id=int(claims["sub"]), link_id=int(claims["lnk"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


def csrf_token(session_token: str) -> str:
    """The CSRF token that goes with a session cookie: only pages served to that session know it."""
    return hmac.new(_secret().encode(), b"csrf|" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_token_matches(session_token: str, presented: str) -> bool:
    return hmac.compare_digest(csrf_token(session_token), presented)


def new_device_token() -> str:
    """A long random secret; devices present it, the database keeps only its hash."""
    return secrets.token_urlsafe(32)


def hash_device_token(token: str) -> str:
    # The token has 256 bits of entropy, so a fast hash is enough and keeps ingest lookups cheap.
    return hashlib.sha256(token.encode()).hexdigest()


# Ids ewall generates for phone apps with no password of their own (OsmAnd/Traccar Client): 128 random
# bits, so the id alone authenticates the device and is kept like a token, as its hash.
_DEVICE_KEY = re.compile(r"ew-[0-9a-f]{32}")


def new_device_key() -> str:
    """A device id that doubles as the device's secret; shown once, stored as hash_device_token(key)."""
    return f"ew-{secrets.token_hex(16)}"


def is_device_key(key: str) -> bool:
    """Whether ``key`` has the shape of a generated device key (so it must never be stored or shown whole)."""
    return _DEVICE_KEY.fullmatch(key) is not None


def device_key_hint(key: str) -> str:
    """What officers see of a device key: enough to tell devices apart, too little to report as one."""
    return f"ew-…{key[-4:]}"
