"""The hash-chained audit log: intact chains verify, edits and deletions are found."""

import pytest
from sqlalchemy import text

from core import audit
from core.db import session_scope


@pytest.fixture
def chain(services):
    with session_scope() as session:
        entries = [
            audit.append(
                session,
                actor="officer:1",
                action="test.action",
                entity="test",
                entity_id=n,
                detail={"n": n, "note": "测试"},
            )
            for n in range(3)
        ]
        ids = [e.id for e in entries]
    return ids


def _problems() -> list[str]:
    with session_scope() as session:
        return audit.verify(session)


def test_an_intact_chain_verifies(chain):
    assert _problems() == []


def test_the_database_refuses_edits(chain):
    with pytest.raises(Exception, match="append-only"), session_scope() as session:
        session.execute(text("UPDATE audit_log SET actor = 'x' WHERE id = :id"), {"id": chain[1]})


def _tamper(sql: str, row_id: int) -> None:
    # As a database owner who switches the guard off: verification must still notice.
    with session_scope() as session:
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        session.execute(text(sql), {"id": row_id})
        session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def _repair_for_next_tests(bad_ids: list[int]) -> None:
    # Later tests append to the same chain; cut the damaged tail so it verifies again.
    with session_scope() as session:
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        session.execute(text("DELETE FROM audit_log WHERE id >= :id"), {"id": min(bad_ids)})
        session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def test_an_edited_row_is_found(chain):
    _tamper("UPDATE audit_log SET detail = '{\"n\": 99}' WHERE id = :id", chain[1])
    problems = _problems()
    _repair_for_next_tests(chain)
    assert any(f"id {chain[1]}" in p and "edited" in p for p in problems)


def test_a_deleted_row_is_found(chain):
    _tamper("DELETE FROM audit_log WHERE id = :id", chain[1])
    problems = _problems()
    _repair_for_next_tests(chain)
    assert any(f"id {chain[2]}" in p and "removed" in p for p in problems)
