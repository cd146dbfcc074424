"""Supervision of the running platform: a killed worker comes back by itself and the pipeline still
raises alerts; /ready says which role is down and why; a process that keeps failing at start is
given up with a message; a killed broker is restarted, ingest answers 503 with Retry-After meanwhile,
and every process reconnects with no manual step."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from core.config import REPO_ROOT
from ops import stack
from ops.embedded import BROKER_GROUP
from ops.supervise import START_RETRIES, Program, Supervisor
from tests.conftest import INSTANCE
from tests.factories import CENTRE, eventually, now_iso, offset, post_fixes, post_outside

OUT = offset(*CENTRE, north_m=1200)


@pytest.fixture
def watched(admin_api):
    person = admin_api.supervisee(admin_api.district()["id"])
    device = admin_api.device(person["id"])
    admin_api.home_zone(person["id"])
    return person, device


def alerts_of(admin_api, person) -> list[dict]:
    return admin_api.call("GET", f"/alerts?supervisee_id={person['id']}")


def killed(settings, name: str) -> int:
    """SIGKILL a component; returns its restart count before."""
    before = stack.process(settings, INSTANCE, name)
    os.kill(before.pid, signal.SIGKILL)
    eventually(
        lambda: (p := stack.process(settings, INSTANCE, name)).state == "RUNNING" and p.pid != before.pid,
        what=f"{name} restarted",
    )
    return before.restarts


@pytest.mark.parametrize("name", ["geofence", "alerts"])
def test_a_killed_worker_is_restarted_and_the_pipeline_goes_on(platform, admin_api, ingest, watched, name):
    person, device = watched
    restarts = killed(platform, name)
    assert stack.process(platform, INSTANCE, name).restarts == restarts + 1
    eventually(lambda: post_outside(ingest, device["token"], *OUT) or alerts_of(admin_api, person), what="an alert")


def test_ready_names_the_role_that_is_down(platform, portal_url, ingest_url):
    eventually(lambda: httpx.get(f"{portal_url}/ready").status_code == 200, what="ready")
    supervisor = Supervisor(platform)
    watchdog = stack.process(platform, INSTANCE, "watchdog")
    supervisor.stop_process(watchdog.group, watchdog.name)
    try:
        response = eventually(
            lambda: (r := httpx.get(f"{ingest_url}/ready")).status_code == 503 and r, what="not ready"
        )
        assert response.headers["Retry-After"]
        body = response.json()
        assert body["status"] == "unready"
        assert [r for r in body["reasons"] if r.startswith("watchdog: last heartbeat")], body
        assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    finally:
        supervisor.start_process(watchdog.group, watchdog.name)
    eventually(lambda: httpx.get(f"{portal_url}/ready").status_code == 200, what="ready again")
    assert httpx.get(f"{portal_url}/health").json() == {"status": "ok"}


def test_a_process_failing_at_start_is_given_up_with_a_message(platform):
    supervisor = Supervisor(platform)
    # A shell, not Python: under load a Python that takes over START_S to start and fail counts as started.
    crash = Program("crash", ("/bin/sh", "-c", "echo 'no database configured' >&2; exit 1"))
    supervisor.ensure_group("flaky", [crash], os.environ)
    try:
        eventually(
            lambda: supervisor.process("flaky", "flaky-crash").state == "FATAL",
            timeout_s=60,
            what="the supervisor giving up",
        )
        status = subprocess.run(
            [sys.executable, "-m", "ops.cli", "status"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
        )
        assert "flaky-crash" in status.stdout and "FATAL" in status.stdout
        assert f"flaky-crash gave up after {START_RETRIES} failures in a row" in status.stderr
        assert "consumer lag" in status.stdout
    finally:
        supervisor.remove_group("flaky")


def test_a_killed_broker_is_restarted_and_everything_reconnects(platform, admin_api, ingest, watched):
    person, device = watched
    launcher = Supervisor(platform).process(BROKER_GROUP, f"{BROKER_GROUP}-tansu")
    tansu = int(subprocess.check_output(["pgrep", "-P", str(launcher.pid)]).split()[0])
    os.kill(tansu, signal.SIGKILL)
    answers = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            response = post_fixes(ingest, device["token"], [{"ts": now_iso(), "lat": CENTRE[0], "lon": CENTRE[1]}])
        except httpx.TransportError:
            continue
        answers.append(response)
        if response.status_code == 202:
            break
        time.sleep(0.1)
    assert answers[-1].status_code == 202, answers[-1].text
    refused = [r for r in answers if r.status_code != 202]
    assert all(r.status_code == 503 and r.headers.get("Retry-After") for r in refused), [r.text for r in refused]
    # The whole pipeline is back: a fix after the restart reaches an alert.
    eventually(lambda: post_outside(ingest, device["token"], *OUT) or alerts_of(admin_api, person), what="an alert")
    assert Supervisor(platform).process(BROKER_GROUP, f"{BROKER_GROUP}-tansu").restarts == launcher.restarts + 1


def test_a_new_supervisor_starts_no_group_left_by_the_last_one(tmp_path, settings):
    """./ewall down stops supervisord, not its groups' files: the next one must not bring them back."""
    supervisor = Supervisor(settings.model_copy(update={"run_dir": tmp_path}))
    supervisor.ensure_group("leftover", [Program("sleeper", ("/bin/sleep", "600"))], os.environ)
    assert supervisor.process("leftover", "leftover-sleeper").state in {"STARTING", "RUNNING"}
    supervisor.shutdown()
    try:
        supervisor.ensure_running()
        assert supervisor.process("leftover", "leftover-sleeper") is None
    finally:
        supervisor.shutdown()
