"""Password hashing (argon2), access tokens (JWT), device tokens and generated device keys (random,
stored as SHA-256)."""

import enum
import hashlib
import re
import secrets
from datetime import timedelta

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


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class InvalidToken(Exception):
    pass


def _secret() -> str:
    secret = get_settings().secret_key
    if not secret:
        raise RuntimeError("EWALL_SECRET_KEY is not set; run ./ewall up or set it in the environment")
    return secret


def create_access_token(*, officer_id: int, role: Role) -> str:
    ttl = timedelta(minutes=get_settings().access_token_ttl_min)
    claims = {"sub": str(officer_id), "role": role.value, "exp": utcnow() + ttl}
    return jwt.encode(claims, _secret(), algorithm=_JWT_ALGORITHM)


def decode_access_token(token: str) -> int:
    """The officer id the token was issued to."""
    try:
        claims = jwt.decode(token, _secret(), algorithms=[_JWT_ALGORITHM])
        return int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc


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
