"""The audit chain: intact chains verify; every tampering is found, by the chain, its seals or the
checkpoints kept outside the database; the app's role cannot tamper at all.

Tampering happens in a scratch database (migrated and guarded like the real one), so the suite's own
chain stays intact for the other tests."""

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from core import audit
from core.config import REPO_ROOT
from core.db import session_scope
from ops import embedded


@pytest.fixture(scope="module")
def scratch(services):
    if not services.embedded_database:
        pytest.skip("needs the embedded cluster to create a scratch database")
    name = f"{services.pg_database}_audit"
    embedded.drop_database(services, name)
    embedded.ensure_database(services, name)
    engine = create_engine(services.db_url.rsplit("/", 1)[0] + "/" + name)
    config = Config(str(REPO_ROOT / "alembic.ini"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    embedded.secure_audit_log(services, name)
    yield services, name, engine
    engine.dispose()
    embedded.drop_database(services, name)


class Chain:
    def __init__(self, scratch, anchor):
        self.settings, self.database, self.engine = scratch
        self.anchor = anchor

    def as_superuser(self, statements: str) -> None:
        embedded.superuser_sql(self.settings, self.database, statements)

    def append(self, n: int) -> list[int]:
        with Session(self.engine) as session:
            ids = [
                audit.append(
                    session, actor="officer:1", action="test.action", entity="test", entity_id=i, detail={"测试": i}
                ).id
                for i in range(n)
            ]
            session.commit()
        return ids

    def checkpoint(self) -> None:
        with Session(self.engine) as session:
            audit.checkpoint(session, anchor=self.anchor)

    def problems(self) -> list[str]:
        with Session(self.engine) as session:
            return audit.verify(session, anchor=self.anchor)


@pytest.fixture
def chain(scratch, tmp_path):
    """Four entries, their head checkpointed, then one more after the checkpoint."""
    chain = Chain(scratch, tmp_path / "anchor.jsonl")
    chain.as_superuser("TRUNCATE audit_log RESTART IDENTITY")
    chain.ids = chain.append(4)
    chain.checkpoint()
    chain.ids += chain.append(1)
    return chain


def test_an_intact_chain_verifies_and_its_head_is_checkpointed_when_it_moves(chain):
    assert chain.problems() == []
    chain.checkpoint()
    chain.checkpoint()  # the head did not move: no new line
    lines = chain.anchor.read_text().splitlines()
    assert len(lines) == 2 and f'"last_id":{chain.ids[-1]}' in lines[-1] and '"count":5' in lines[-1]
    assert chain.problems() == []


def test_an_empty_chain_is_not_checkpointed(scratch, tmp_path):
    # The watchdog's first rounds on a new database see no entries: nothing to anchor, nothing to miss later.
    chain = Chain(scratch, tmp_path / "anchor.jsonl")
    chain.as_superuser("TRUNCATE audit_log RESTART IDENTITY")
    chain.checkpoint()
    assert chain.anchor.read_text() == ""
    chain.append(1)
    assert chain.problems() == []


def _disabled(sql: str) -> str:
    # A superuser (or whoever owns the table) switches the guard off around the tampering.
    return (
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;"
        f"{sql};ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"
    )


def _rewrite_all(chain: Chain, seal: str = "seal") -> str:
    # Every row's content changed and its hash recomputed, the chain consistent: only the seals (and
    # the checkpoint) can tell, since the key is not in the database.
    prev, updates = audit.GENESIS_HASH, []
    with Session(chain.engine) as session:
        for row in session.scalars(text("SELECT id FROM audit_log ORDER BY id")):
            entry = session.get(audit.AuditLog, row)
            new = audit._row_hash(
                prev, entry.at, "officer:2", entry.action, entry.entity, entry.entity_id, entry.detail
            )
            updates.append(
                f"UPDATE audit_log SET actor = 'officer:2', prev_hash = '{prev}', hash = '{new}', seal = {seal} "
                f"WHERE id = {row}"
            )
            prev = new
    return _disabled(";".join(updates))


@pytest.mark.parametrize(
    "tampering, found",
    [
        ("deleted tail", "is missing (the chain's tail was cut"),
        ("emptied table", "is missing (the chain's tail was cut"),
        ("edited row", "content does not match its hash"),
        ("deleted middle row", "previous-hash link broken"),
        ("full rewrite", "seal does not match"),
        # Unsealed, as if written before sealing began: the checkpoint's head hash no longer matches.
        ("full rewrite without seals", "differs from the checkpoint"),
    ],
)
def test_tampering_as_superuser_is_found(chain, tampering, found):
    head_checkpointed = chain.ids[3]
    sql = {
        "deleted tail": _disabled(f"DELETE FROM audit_log WHERE id >= {head_checkpointed}"),
        "emptied table": "TRUNCATE audit_log",
        "edited row": _disabled(f"UPDATE audit_log SET detail = '{{\"n\": 99}}' WHERE id = {chain.ids[1]}"),
        "deleted middle row": _disabled(f"DELETE FROM audit_log WHERE id = {chain.ids[1]}"),
    }.get(tampering) or _rewrite_all(chain, seal="NULL" if "without seals" in tampering else "seal")
    chain.as_superuser(sql)
    problems = chain.problems()
    assert any(found in p for p in problems), problems


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "DROP TABLE audit_log",
        f"GRANT {embedded.AUDIT_OWNER} TO CURRENT_USER",
    ],
)
def test_the_app_role_can_only_read_and_append(chain, statement):
    with (
        pytest.raises(ProgrammingError, match=r"permission denied|must be owner|must have admin option"),
        chain.engine.begin() as conn,
    ):
        conn.execute(text(statement))
    assert chain.problems() == []


def test_the_suite_database_is_guarded_too(services):
    # ./ewall up and ./ewall test hand audit_log to its owner after migrating.
    with session_scope() as session:
        assert audit.tamper_powers(session) == []
        assert audit.verify(session) == []
