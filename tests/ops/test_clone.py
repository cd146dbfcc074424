"""A newcomer's clone in a folder only root can enter (``mktemp -d``, mode 0700) sets itself up and runs:
``./ewall up --no-fleet`` there starts PostgreSQL (as ``postgres``, which cannot enter the clone), the
broker, both apps and the workers; a fix posted to it reaches the live positions; ``./ewall down``
stops it all. The clone is of the working tree as it is now (``git stash create``), on ports of its own."""

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest

from core.config import REPO_ROOT
from tests.factories import CENTRE, Api, eventually, now_iso, post_fixes

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the 0700-folder case is root's (PostgreSQL runs as postgres)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def clone():
    folder = Path(tempfile.mkdtemp(prefix="ewall-clone-"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    checkout = folder / "ewall"
    snapshot = subprocess.run(["git", "stash", "create"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(checkout)], check=True)
    if snapshot:
        subprocess.run(["git", "fetch", "-q", str(REPO_ROOT), snapshot], cwd=checkout, check=True)
        subprocess.run(["git", "checkout", "-q", snapshot], cwd=checkout, check=True)
    ports = {name: free_port() for name in ("PG", "KAFKA", "INGEST", "PORTAL")}
    # A newcomer's environment: none of this suite's settings.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env |= {f"EWALL_{name}_PORT": str(port) for name, port in ports.items()}
    yield checkout, env, ports
    subprocess.run([str(checkout / "ewall"), "down"], cwd=checkout, env=env, capture_output=True, timeout=120)
    pg_home = Path("/var/lib/postgresql/ewall")
    for cluster in pg_home.glob("*"):
        if (cluster / "data" / "PG_VERSION").exists() and _cluster_of(cluster) == checkout / ".run":
            shutil.rmtree(cluster)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700, "the clone's folder keeps its mode"
    shutil.rmtree(folder)


def _cluster_of(cluster: Path) -> Path | None:
    marker = cluster / "clone"
    return Path(marker.read_text().strip()) if marker.exists() else None


def test_up_from_a_folder_only_root_can_enter(clone):
    checkout, env, ports = clone
    up = subprocess.run(
        [str(checkout / "ewall"), "up", "--no-fleet"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert "Admin login" in up.stdout
    assert "Demo staff" not in up.stdout and not (checkout / ".run" / "demo-accounts.env").exists()
    assert stat.S_IMODE((checkout / ".run" / "ewall.env").stat().st_mode) == 0o600

    password = next(
        line.split("=", 1)[1]
        for line in (checkout / ".run" / "ewall.env").read_text().splitlines()
        if line.startswith("EWALL_ADMIN_PASSWORD=")
    )
    portal = f"http://127.0.0.1:{ports['PORTAL']}"
    api = Api.sign_in(portal, "admin", password)
    assert "change your password" in api.call("GET", "/districts", expect=403)["detail"]
    changed = api.call(
        "POST", "/auth/password", json={"current_password": password, "new_password": password + "-mine"}
    )
    api.client.headers["Authorization"] = f"Bearer {changed['access_token']}"
    person = api.supervisee(api.district()["id"])
    device = api.device(person["id"])
    with httpx.Client(base_url=f"http://127.0.0.1:{ports['INGEST']}", timeout=20) as ingest:
        fix = {"ts": now_iso(), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 10}
        response = post_fixes(ingest, device["token"], [fix])
        assert response.status_code == 202, response.text
    eventually(
        lambda: any(p["supervisee_id"] == person["id"] for p in api.call("GET", "/positions/live")),
        what="the fix in the clone's live positions",
    )
    eventually(lambda: httpx.get(f"{portal}/ready").status_code == 200, what="the clone's platform ready")

    status = subprocess.run([str(checkout / "ewall"), "status"], cwd=checkout, env=env, capture_output=True, text=True)
    assert "main-persist" in status.stdout and "RUNNING" in status.stdout, status.stdout + status.stderr
