"""The platform's processes — ingest app, portal app, workers — started, checked and stopped
together. ``instance`` separates parallel stacks (the test suite runs its own beside ``up``)."""

import os
import sys
from dataclasses import dataclass

import httpx
from alembic import command
from alembic.config import Config

from core import bus
from core.config import REPO_ROOT, Settings
from ops import embedded
from ops.processes import Managed, check_port_free, port_open, wait_until


@dataclass(frozen=True)
class Component:
    name: str
    argv: tuple[str, ...]
    port: int | None = None
    port_setting: str = ""


def components(settings: Settings) -> list[Component]:
    py = sys.executable

    def app(module: str, port: int, workers: int) -> tuple[str, ...]:
        return (
            py,
            "-m",
            "uvicorn",
            module,
            "--host",
            settings.host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        )

    return [
        Component(
            "ingest",
            app("tracker_ingest.app:app", settings.ingest_port, settings.ingest_workers),
            settings.ingest_port,
            "EWALL_INGEST_PORT",
        ),
        Component(
            "portal",
            app("officer_portal.app:app", settings.portal_port, settings.portal_workers),
            settings.portal_port,
            "EWALL_PORTAL_PORT",
        ),
        Component("persist", (py, "-m", "tracker_ingest.worker")),
        Component("geofence", (py, "-m", "geofence.worker")),
        Component("alerts", (py, "-m", "alerts.worker")),
        Component("watchdog", (py, "-m", "alerts.watchdog")),
    ]


def managed(settings: Settings, instance: str, name: str) -> Managed:
    return Managed(f"{instance}-{name}" if instance else name, settings.run_dir)


def migrate(settings: Settings) -> None:
    """alembic upgrade head on the configured database."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    command.upgrade(config, "head")


def prepare_services(settings: Settings) -> None:
    """Database and broker up, schema current, topics created."""
    embedded.ensure_postgres(settings)
    embedded.ensure_broker(settings)
    migrate(settings)
    bus.ensure_topics(settings)


def start(settings: Settings, instance: str = "", env: dict[str, str] | None = None) -> list[tuple[str, int, bool]]:
    """Start every component not yet running; wait until the apps answer. Returns (name, pid, started)."""
    env = dict(env or os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    started = []
    for component in components(settings):
        process = managed(settings, instance, component.name)
        if component.port and process.pid() is None:
            check_port_free(component.port, owner=f"the {component.name} app", setting=component.port_setting)
        pid, now = process.start(component.argv, env=env, cwd=REPO_ROOT)
        started.append((component.name, pid, now))
    for component in components(settings):
        if component.port:
            process = managed(settings, instance, component.name)
            url = f"http://{settings.host}:{component.port}/health"
            wait_until(lambda url=url: _healthy(url), timeout_s=60, what=f"the {component.name} app", managed=process)
    return started


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def stop(settings: Settings, instance: str = "") -> list[str]:
    stopped = []
    for component in reversed(components(settings)):
        if managed(settings, instance, component.name).stop():
            stopped.append(component.name)
    return stopped


def status(settings: Settings, instance: str = "") -> list[tuple[str, str]]:
    rows = [("postgres", embedded.postgres_status(settings))]
    if settings.embedded_broker:
        pid = embedded.broker(settings).pid()
        rows.append(("broker", f"running on 127.0.0.1:{settings.kafka_port} (pid {pid})" if pid else "stopped"))
    else:
        rows.append(("broker", f"external ({', '.join(settings.bootstrap_servers)})"))
    for component in components(settings):
        pid = managed(settings, instance, component.name).pid()
        where = f" on http://{settings.host}:{component.port}" if component.port else ""
        state = f"running{where} (pid {pid})" if pid else "stopped"
        if component.port and not pid and port_open(component.port):
            state += f" — port {component.port} is held by another program"
        rows.append((component.name, state))
    return rows
