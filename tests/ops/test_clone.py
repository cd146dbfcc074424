"""A newcomer's clone in a folder only root can enter (``mktemp -d``, mode 0700) sets itself up and runs:
``./ewall up --no-fleet`` there starts PostgreSQL (as ``postgres``, which cannot enter the clone), the
broker, both apps and the workers; a fix posted to it reaches the live positions; ``./ewall down``
stops it all. A clone made again at the same path starts afresh. The clone is of the working tree as it
is now (``git stash create``), on ports of its own."""

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


def _ewall(checkout: Path, env: dict, *argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(checkout / "ewall"), *argv], cwd=checkout, env=env, capture_output=True, text=True, timeout=540
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _admin_password(checkout: Path) -> str:
    generated = (checkout / ".run" / "ewall.env").read_text().splitlines()
    return next(line.split("=", 1)[1] for line in generated if line.startswith("EWALL_ADMIN_PASSWORD="))


def test_up_from_a_folder_only_root_can_enter(clone):
    checkout, env, ports = clone
    up = _ewall(checkout, env, "up", "--no-fleet")
    assert "Admin login" in up.stdout
    assert "Demo staff" not in up.stdout and not (checkout / ".run" / "demo-accounts.env").exists()
    assert stat.S_IMODE((checkout / ".run" / "ewall.env").stat().st_mode) == 0o600

    password = _admin_password(checkout)
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

    status = _ewall(checkout, env, "status")
    assert "main-persist" in status.stdout and "RUNNING" in status.stdout, status.stdout + status.stderr


def test_a_new_clone_at_the_same_path_starts_afresh(clone):
    """As root the cluster lives outside the clone and outlives it. A clone deleted and made again at the
    same path has a new .run/ewall.env, whose password the old cluster refuses: it is set aside."""
    checkout, env, ports = clone
    _ewall(checkout, env, "down")
    shutil.rmtree(checkout / ".run")
    up = _ewall(checkout, env, "up", "--no-fleet")
    assert "an earlier clone's at this path" in up.stdout
    earlier = [
        c for c in Path("/var/lib/postgresql/ewall").glob("*.earlier-clone") if _cluster_of(c) == checkout / ".run"
    ]
    assert len(earlier) == 1 and (earlier[0] / "data" / "PG_VERSION").exists()
    password = _admin_password(checkout)
    Api.sign_in(f"http://127.0.0.1:{ports['PORTAL']}", "admin", password)
