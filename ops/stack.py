"""The platform's processes — ingest app, portal app, workers — run under the process supervisor,
started, checked and stopped together. ``instance`` separates parallel stacks (the test suite runs
its own beside ``up``); each is a supervisord group of its own."""

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx
from alembic import command
from alembic.config import Config

from core import bus
from core.config import REPO_ROOT, Settings
from ops import embedded
from ops.processes import check_port_free, wait_until
from ops.supervise import ProcessInfo, Program, Supervisor

MAIN = "main"


@dataclass(frozen=True)
class Component:
    name: str
    argv: tuple[str, ...]
    port: int | None = None
    port_setting: str = ""
    numprocs: int = 1


def components(settings: Settings) -> list[Component]:
    py = sys.executable

    def app(target: str, port: int) -> tuple[str, ...]:
        return ("app", target, settings.host, str(port))

    return [
        Component(
            "ingest",
            app("tracker_ingest.app:app", settings.ingest_port),
            settings.ingest_port,
            "EWALL_INGEST_PORT",
            settings.ingest_workers,
        ),
        Component(
            "portal",
            app("officer_portal.app:app", settings.portal_port),
            settings.portal_port,
            "EWALL_PORTAL_PORT",
            settings.portal_workers,
        ),
        Component("persist", (py, "-m", "tracker_ingest.worker")),
        Component("geofence", (py, "-m", "geofence.worker")),
        Component("alerts", (py, "-m", "alerts.worker")),
        Component("watchdog", (py, "-m", "alerts.watchdog")),
        Component("rollcall", (py, "-m", "rollcall.worker")),
    ]


def group(instance: str) -> str:
    return instance or MAIN


def migrate(settings: Settings) -> None:
    """alembic upgrade head on the configured database."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    command.upgrade(config, "head")


def prepare_services(settings: Settings) -> None:
    """Database and broker up, schema current, topics created."""
    embedded.ensure_postgres(settings)
    embedded.ensure_broker(settings)
    migrate(settings)
    if settings.embedded_database:
        embedded.secure_audit_log(settings, settings.pg_database)
    bus.ensure_topics(settings)


def start(
    settings: Settings,
    instance: str = "",
    env: Mapping[str, str] | None = None,
    extra: Sequence[Program] = (),
) -> list[ProcessInfo]:
    """Run every component (and ``extra`` programs) under the supervisor; wait until the apps answer."""
    supervisor = Supervisor(settings)
    env = dict(env or os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    running = {p.name for p in supervisor.processes(group(instance)) if p.pid}
    programs = []
    for component in components(settings):
        name = f"{group(instance)}-{component.name}"
        if component.port and not any(r.startswith(name) for r in running):
            check_port_free(component.port, owner=f"the {component.name} app", setting=component.port_setting)
        programs.append(Program(component.name, component.argv, component.numprocs))
    supervisor.ensure_group(group(instance), [*programs, *extra], env)
    for component in components(settings):
        if component.port:
            url = f"http://{settings.host}:{component.port}/health"
            wait_until(lambda url=url: _healthy(url), timeout_s=60, what=f"the {component.name} app")
    return supervisor.processes(group(instance))


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def stop(settings: Settings, instance: str = "") -> bool:
    """Stop the instance's processes; returns whether any ran."""
    return Supervisor(settings).remove_group(group(instance))


def process(settings: Settings, instance: str, name: str) -> ProcessInfo | None:
    """A component's process (the first, for an app run as several)."""
    rows = Supervisor(settings).processes(group(instance))
    full = f"{group(instance)}-{name}"
    return next((p for p in rows if p.name == full or p.name == f"{full}-0"), None)


def restart(settings: Settings, instance: str, name: str) -> None:
    """Stop a component and start it again (a clean restart, not a crash)."""
    supervisor = Supervisor(settings)
    info = process(settings, instance, name)
    supervisor.stop_process(group(instance), info.name)
    supervisor.start_process(group(instance), info.name)
