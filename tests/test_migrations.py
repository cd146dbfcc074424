"""The schema: Alembic revisions go up and down on an empty database, and the models match them."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from core.config import REPO_ROOT
from migrations.metadata import include_object, target_metadata
from ops import embedded


@pytest.fixture
def empty_database(services):
    if not services.embedded_database:
        pytest.skip("needs the embedded cluster to create a scratch database")
    name = f"{services.pg_database}_migrations"
    embedded.drop_database(services, name)
    embedded.ensure_database(services, name)
    engine = create_engine(services.db_url.rsplit("/", 1)[0] + "/" + name)
    yield engine
    engine.dispose()
    embedded.drop_database(services, name)


def _alembic(engine, *args):
    config = Config(str(REPO_ROOT / "alembic.ini"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, args[0])(config, *args[1:])


def test_upgrade_matches_the_models_and_downgrade_leaves_nothing(empty_database):
    _alembic(empty_database, "upgrade", "head")
    with empty_database.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"include_object": include_object, "compare_type": True}),
            target_metadata,
        )
        assert diff == []
        partitions = connection.execute(text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'fix'::regclass"))
        assert partitions.scalar_one() >= 8  # yesterday, today and a week ahead

    _alembic(empty_database, "downgrade", "base")
    with empty_database.connect() as connection:
        tables = set(inspect(connection).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
        assert tables == set()
        types = connection.execute(text("SELECT typname FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid"))
        assert types.all() == []

    _alembic(empty_database, "upgrade", "head")  # and up again


def test_data_already_stored_is_converted_not_lost(empty_database):
    # Generated device keys are hashed; monitoring dates entered before approvals existed are kept apart.
    import hashlib

    key = "ew-" + "0123456789abcdef" * 2
    _alembic(empty_database, "upgrade", "0010")
    with empty_database.begin() as connection:
        connection.execute(
            text(f"""
            INSERT INTO district (id, code, name, level) VALUES (1, 'D', 'd', 'county');
            INSERT INTO supervisee (id, code, full_name, category, risk_level, district_id, supervision_start,
                                    monitoring_start, monitoring_end)
            VALUES (1, 'S', 's', 'probation', 'low', 1, '2026-01-01', '2026-02-01', '2026-09-30');
            INSERT INTO device (supervisee_id, kind, external_id, token_hash, key_is_secret)
            VALUES (1, 'phone', '{key}', 't1', true), (1, 'tracker', '353861053849681', 't2', false);
            INSERT INTO unknown_device (protocol, device_key, first_seen_at, last_seen_at, attempts)
            VALUES ('osmand', '{key}', now(), now(), 3), ('osmand', 'stranger', now(), now(), 1)""")
        )
    _alembic(empty_database, "upgrade", "head")
    with empty_database.connect() as connection:
        devices = connection.execute(text("SELECT external_id, key_hash, key_hint FROM device ORDER BY id")).all()
        unknown = connection.execute(text("SELECT device_key, attempts FROM unknown_device ORDER BY 1")).all()
        dates = connection.execute(text("SELECT * FROM unapproved_monitoring_dates")).all()
    assert devices == [
        (None, hashlib.sha256(key.encode()).hexdigest(), "ew-…cdef"),
        ("353861053849681", None, None),
    ]
    assert unknown == [("ew-…cdef", 3), ("stranger", 1)]
    assert [tuple(map(str, d)) for d in dates] == [("1", "2026-02-01", "2026-09-30")]
