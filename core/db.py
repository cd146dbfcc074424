"""Database engine, sessions, the declarative base, the COPY helper and batched deletes/updates."""

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import Enum as SqlEnum
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.config import get_settings

# Explicit constraint names so that Alembic revisions are stable and reversible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine; connections are checked before use so a database restart heals."""
    settings = get_settings()
    # A bounded connect: an unreachable host must fail in seconds, so callers can back off or serve stale.
    connect_args = {"connect_timeout": max(1, round(settings.db_connect_timeout_s))}
    return create_engine(settings.db_url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=connect_args)


@lru_cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def new_session() -> Session:
    return _session_factory()()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: commit on success, roll back on error."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# SQLSTATEs that mean "the server is going away or refuses connections", not "this statement is wrong":
# connection exceptions (08), admin/crash shutdown and "cannot connect now" (57P01-57P03), too many
# connections (53300).
_UNREACHABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached, rather than that a
    statement failed: retry later, never blame the data."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError | ConnectionError):
            return True
        if isinstance(exc, psycopg.OperationalError):
            state = exc.sqlstate
            if state is None or state.startswith(_UNREACHABLE_STATES):
                return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


def copy_binary(session: Session, table: str, payload: bytes) -> None:
    """Bulk-load a PostgreSQL binary COPY stream on the session's own connection (same transaction)."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(payload)


def delete_in_batches(session: Session, *, table: str, where: str, params: dict[str, Any], batch_rows: int) -> int:
    """Delete the rows of ``table`` matching ``where`` (SQL text), ``batch_rows`` per committed
    transaction; returns how many. Retention runs this way so that no transaction holds its locks long."""
    return _batched(session, f"DELETE FROM {table} WHERE {_batch_of(table, where)}", params, batch_rows)


def update_in_batches(
    session: Session, *, table: str, assignments: str, where: str, params: dict[str, Any], batch_rows: int
) -> int:
    """Like ``delete_in_batches``, setting ``assignments`` instead; ``where`` must stop matching a row
    once it is updated."""
    return _batched(session, f"UPDATE {table} SET {assignments} WHERE {_batch_of(table, where)}", params, batch_rows)


def _batch_of(table: str, where: str) -> str:
    # Rows are picked by their physical address (a TID scan), so any table works, with or without a key;
    # a row another transaction changed meanwhile has moved and is left for the next run.
    return f"ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {where} LIMIT :batch_rows))"


def _batched(session: Session, sql: str, params: dict[str, Any], batch_rows: int) -> int:
    total = 0
    while True:
        count = session.execute(text(sql), {**params, "batch_rows": batch_rows}).rowcount
        session.commit()
        total += count
        if count < batch_rows:
            return total


def pg_enum(cls: type[enum.Enum], name: str, **kwargs: Any) -> SqlEnum:
    """A PostgreSQL enum type storing the members' values (the words the API uses)."""
    return SqlEnum(cls, name=name, values_callable=lambda members: [m.value for m in members], **kwargs)
