"""Test session set-up: the real PostGIS and broker (started by the project's own code), a fresh
test database, fresh topics, and the platform's own processes on test ports.

Settings are read from the environment, so the test instance is configured here, before any
module asks for them. It runs beside a platform started with ``./ewall up`` without touching it."""

import os
import time
from pathlib import Path

import httpx
import pytest

RUN_ID = f"t{os.getpid()}x{int(time.time()) % 100000}"
os.environ.setdefault("EWALL_PG_DATABASE", "ewall_test")
os.environ["EWALL_TOPIC_PREFIX"] = f"{RUN_ID}."
os.environ.setdefault("EWALL_INGEST_PORT", "15055")
os.environ.setdefault("EWALL_PORTAL_PORT", "18000")
os.environ["EWALL_INGEST_WORKERS"] = "1"
os.environ["EWALL_GEOFENCE_ZONE_RELOAD_S"] = "0.5"
os.environ["EWALL_WATCHDOG_INTERVAL_S"] = "2"
os.environ["EWALL_HEARTBEAT_INTERVAL_S"] = "1"
os.environ["EWALL_READY_HEARTBEAT_MAX_AGE_S"] = "5"
# Fewer failed sign-ins trip a source address's lockout, so the test that trips it costs fewer argon2 rounds.
os.environ["EWALL_SIGN_IN_ADDRESS_MAX_FAILURES"] = "10"
# The audit chain's checkpoints belong to the test database, which each session starts afresh.
_instance = os.environ.get("EWALL_TEST_INSTANCE", "test")
os.environ["EWALL_AUDIT_ANCHOR_FILE"] = str(Path(__file__).parent.parent / ".run" / f"audit-anchor-{_instance}.jsonl")

from core.config import get_settings  # noqa: E402
from ops import embedded, seed, stack  # noqa: E402
from tests.factories import ADMIN_PASSWORD, Api  # noqa: E402

# Separate instances (own database, ports, processes) let two suites run side by side.
INSTANCE = _instance


def _reset_database(settings) -> None:
    if settings.embedded_database:
        embedded.ensure_postgres(settings)
        embedded.drop_database(settings, settings.pg_database)
        embedded.ensure_database(settings, settings.pg_database)
        settings.audit_anchor_file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def settings():
    embedded.ensure_generated_secrets()
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def services(settings):
    """PostGIS and the broker running, schema migrated, topics created, bootstrap admin present."""
    _reset_database(settings)
    stack.prepare_services(settings)
    from core.db import session_scope

    with session_scope() as session:
        seed.ensure_admin(session, ADMIN_PASSWORD, must_change_password=False)
    return settings


@pytest.fixture(scope="session")
def platform(services):
    """The ingest app, the portal and every worker, as real processes."""
    stack.stop(services, INSTANCE)
    stack.start(services, INSTANCE)
    yield services
    stack.stop(services, INSTANCE)


@pytest.fixture
def db(services):
    from core.db import new_session

    session = new_session()
    yield session
    session.rollback()
    session.close()


@pytest.fixture(scope="session")
def portal_url(platform) -> str:
    return f"http://{platform.host}:{platform.portal_port}"


@pytest.fixture(scope="session")
def ingest_url(platform) -> str:
    return f"http://{platform.host}:{platform.ingest_port}"


@pytest.fixture(scope="session")
def admin_api(portal_url) -> Api:
    return Api.sign_in(portal_url, "admin", ADMIN_PASSWORD)


@pytest.fixture
def ingest(ingest_url):
    with httpx.Client(base_url=ingest_url, timeout=20.0) as client:
        yield client
