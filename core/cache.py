"""A short-lived cache of database lookups that outlives a database outage: while the database cannot
be reached it answers with what it has (expired entries included) and says which keys it cannot
check, and a gate keeps lookups from trying the database on every call meanwhile."""

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from core.config import get_settings
from core.db import is_unreachable, session_scope
from core.errors import first_line

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")
log = logging.getLogger("ewall.cache")


class DirectoryUnavailable(RuntimeError):
    """The database is unreachable and the cache cannot answer for this key: ask the sender to retry."""


class DatabaseGate:
    """Whether lookups should try the database now. After a failure they do not for ``retry_s``, so
    while it is down a request costs no connection attempt; logged once when it goes and comes back."""

    def __init__(self, retry_s: float = 2.0, *, log: logging.Logger = log):
        self._retry_s = retry_s
        self._log = log
        self._closed_until = 0.0
        self._down_since: float | None = None
        self._lock = threading.Lock()

    def open(self) -> bool:
        return time.monotonic() >= self._closed_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._closed_until = time.monotonic() + self._retry_s
            if self._down_since is None:
                self._down_since = time.monotonic()
                self._log.warning(
                    "database unreachable: %s; serving cached answers, 503 for the others", first_line(exc)
                )

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is not None:
                self._log.info("database back after %.0f s", time.monotonic() - self._down_since)
            self._down_since = None


class TtlCache(Generic[Key, Value]):
    """Key → value (or None for "no such thing"), each for a short time, so a deactivated token
    stops working within the TTL and unknown keys do not hammer the database.

    When the database cannot be reached an expired entry is used anyway (a known device's fixes are
    accepted stale rather than refused); a key with no entry, or an expired "no such thing", raises
    DirectoryUnavailable: it cannot be checked.

    "No such thing" answers are kept apart, in at most ``max_absent`` entries: a flood of made-up keys
    fills and clears only those, never evicting the known senders."""

    def __init__(
        self,
        load: Callable[[Session, Key], Value | None] | None = None,
        *,
        load_many: Callable[[Session, list[Key]], dict[Key, Value]] | None = None,
        ttl_s: float | None = None,
        max_entries: int = 200_000,
        max_absent: int = 20_000,
        gate: DatabaseGate | None = None,
    ):
        self._load = load or (lambda session, key: load_many(session, [key]).get(key))
        self._load_many = load_many
        self._ttl_s = ttl_s if ttl_s is not None else get_settings().ingest_directory_ttl_s
        self._max_entries = max_entries
        self._entries: dict[Key, tuple[Value, float]] = {}
        self._max_absent = max_absent
        self._absent: dict[Key, float] = {}
        self._gate = gate or DatabaseGate()

    def cached(self, key: Key) -> tuple[bool, Value | None]:
        hit = self._entries.get(key)
        if hit is not None and hit[1] >= time.monotonic():
            return True, hit[0]
        absent_until = self._absent.get(key)
        return absent_until is not None and absent_until >= time.monotonic(), None

    def get(self, key: Key) -> Value | None:
        """Cache first, then the database (blocking: call from a worker thread)."""
        found, value = self.cached(key)
        if found:
            return value
        return self._from_database([key], lambda session: {key: self._load(session, key)})[key]

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Value | None]:
        """``get`` for many keys, the missing ones in one query (needs ``load_many``; blocking)."""
        keys = set(keys)
        answers, complete = self.cached_many(keys)
        if not complete:
            missing = list(keys - answers.keys())
            answers |= self._from_database(missing, lambda session: self._load_many(session, missing))
        return answers

    def _from_database(self, keys: list[Key], load: Callable[[Session], dict]) -> dict[Key, Value | None]:
        if self._gate.open():
            try:
                with session_scope() as session:
                    loaded = load(session)
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                self._gate.failed(exc)
            else:
                self._gate.succeeded()
                fresh = {key: loaded.get(key) for key in keys}
                self._keep(fresh)
                return fresh
        return {key: self._stale(key) for key in keys}

    def _stale(self, key: Key) -> Value:
        hit = self._entries.get(key)
        if hit is None:
            raise DirectoryUnavailable("the device directory cannot be checked right now (database unreachable)")
        return hit[0]

    def cached_many(self, keys: Iterable[Key]) -> tuple[dict[Key, Value | None], bool]:
        """What is cached of these keys, and whether that is all of them (without leaving the loop)."""
        answers, complete = {}, True
        for key in keys:
            found, value = self.cached(key)
            if found:
                answers[key] = value
            else:
                complete = False
        return answers, complete

    def _keep(self, values: dict[Key, Value | None]) -> None:
        until = time.monotonic() + self._ttl_s
        found = {key: (value, until) for key, value in values.items() if value is not None}
        absent = dict.fromkeys(values.keys() - found.keys(), until)
        for kept, fresh, limit in ((self._entries, found, self._max_entries), (self._absent, absent, self._max_absent)):
            if len(kept) + len(fresh) > limit:
                kept.clear()
            kept.update(fresh)
        for key in found:
            self._absent.pop(key, None)
        for key in absent:
            self._entries.pop(key, None)
