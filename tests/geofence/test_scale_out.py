"""Scale-out: a second geofence worker (and a second alerts worker) joins the consumer groups
mid-stream, then is killed (SIGKILL) mid-stream; the partitions move to and fro, the tracks with
them, and the alerts are exactly those of the scripted exits, none twice and none missing.

Real processes and broker: the workers are started from here with the platform's environment."""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import OffsetSpec
from kafka.structs import TopicPartition

from core import bus
from core.config import REPO_ROOT
from tests.factories import CENTRE, eventually, offset, post_fixes, post_outside

HOME = CENTRE
OUT = offset(*CENTRE, north_m=1200)  # 700 m beyond a 500 m wall
# Each role's fixes by phase, (seconds after the start, place); and the episodes they make, (first
# fix outside, first fix back). Phase 1 runs on one worker, phase 2 on two, phase 3 after one of
# them was killed: runs and returns begun in one phase finish in the next, on another worker.
SCRIPT = {
    "out and back within each phase": (
        [(0, HOME), (30, HOME), (60, OUT), (90, OUT), (120, OUT), (150, HOME), (180, HOME)],
        [(300, HOME), (330, HOME)],
        [(600, OUT), (630, OUT), (660, OUT), (690, HOME), (720, HOME)],
    ),
    "the exit confirmed after the rebalance": (
        [(0, HOME), (30, HOME), (60, OUT), (90, OUT)],
        [(120, OUT), (150, OUT), (180, HOME), (210, HOME)],
        [(600, HOME), (630, HOME)],
    ),
    "out before the kill, back after it": (
        [(0, HOME), (30, HOME)],
        [(300, OUT), (330, OUT), (360, OUT)],
        [(390, OUT), (600, HOME), (630, HOME)],
    ),
    "one fix back before the kill, the next after it": (
        [(0, HOME), (30, HOME), (60, OUT), (90, OUT), (120, OUT)],
        [(300, OUT), (330, HOME)],
        [(600, HOME)],
    ),
}
EPISODES = {
    "out and back within each phase": [(60, 150), (600, 690)],
    "the exit confirmed after the rebalance": [(60, 180)],
    "out before the kill, back after it": [(300, 600)],
    "one fix back before the kill, the next after it": [(60, 330)],
}
ROLES = list(SCRIPT)
PARTITIONS = 4  # settings.topic_partitions in the tests: 16 people put every role on every partition


@pytest.fixture
def people(admin_api, ingest):
    """16 people with a device and a 500 m wall each, and the geofence worker knowing every wall."""
    district = admin_api.district()["id"]
    found = []
    for n in range(len(ROLES) * PARTITIONS):
        person = admin_api.supervisee(district)
        device = admin_api.device(person["id"])
        zone = admin_api.home_zone(person["id"])
        found.append({"id": person["id"], "token": device["token"], "zone_id": zone["id"], "role": ROLES[n // 4]})
    # A sentinel's wall, made last: once an exit of theirs alerts, the worker has all the walls.
    sentinel = admin_api.supervisee(district)
    token = admin_api.device(sentinel["id"])["token"]
    admin_api.home_zone(sentinel["id"])
    eventually(
        lambda: post_outside(ingest, token, *OUT) or admin_api.call("GET", f"/alerts?supervisee_id={sentinel['id']}"),
        what="the sentinel's alert",
    )
    return found


def send_phase(ingest, people: list[dict], phase: int, start: datetime) -> None:
    for person in people:
        fixes = [
            {"ts": (start + timedelta(seconds=s)).isoformat(), "lat": lat, "lon": lon, "accuracy_m": 10}
            for s, (lat, lon) in SCRIPT[person["role"]][phase]
        ]
        response = post_fixes(ingest, person["token"], fixes)
        assert response.status_code == 202 and response.json()["accepted"] == len(fixes), response.text


@pytest.fixture
def admin(platform):
    client = KafkaAdminClient(bootstrap_servers=platform.bootstrap_servers, request_timeout_ms=10_000)
    yield client
    client.close()


def lag(admin: KafkaAdminClient, settings, group: str) -> int:
    """Records the group has yet to commit, from the broker."""
    topics = [settings.topic(t) for t in bus.GROUPS[group]]
    partitions = [
        TopicPartition(topic["name"], p["partition_index"])
        for topic in admin.describe_topics(topics)
        for p in topic["partitions"]
    ]
    ends = admin.list_partition_offsets({p: OffsetSpec.LATEST for p in partitions})
    committed = admin.list_group_offsets({settings.topic(group): partitions}).get(settings.topic(group), {})
    done = {p: c.offset if c is not None and c.offset >= 0 else 0 for p, c in committed.items()}
    # Not less than 0: tansu reports the end of a partition whose last write was a batch of several
    # records as the batch's first offset + 1, before a consumer's committed position.
    return sum(max(ends[p].offset - done.get(p, 0), 0) for p in partitions)


def drained(admin: KafkaAdminClient, settings) -> bool:
    """Every fix sent has been through the geofence workers (their snapshots saved and offsets
    committed), and every zone event they published through the alerts workers."""
    return lag(admin, settings, "geofence") == 0 and lag(admin, settings, "alerts") == 0


def spawn(module: str, log: Path) -> subprocess.Popen:
    env = os.environ.copy() | {"PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def episodes(admin_api, people: list[dict]) -> dict[int, list[tuple]]:
    """Each person's alerts as (rule, zone, started, ended), in order."""
    found = {}
    for person in people:
        alerts = admin_api.call("GET", f"/alerts?supervisee_id={person['id']}")
        found[person["id"]] = sorted(
            (
                a["rule"],
                a["zone_id"],
                datetime.fromisoformat(a["started_at"]),
                a["ended_at"] and datetime.fromisoformat(a["ended_at"]),
            )
            for a in alerts
        )
    return found


def test_a_second_worker_joining_and_one_killed_change_no_alert(admin_api, ingest, platform, admin, people, tmp_path):
    start = (datetime.now(UTC) - timedelta(minutes=20)).replace(microsecond=0)
    expected = {
        p["id"]: [
            ("inclusion_exit", p["zone_id"], start + timedelta(seconds=a), start + timedelta(seconds=b))
            for a, b in EPISODES[p["role"]]
        ]
        for p in people
    }

    send_phase(ingest, people, 0, start)
    eventually(lambda: drained(admin, platform), what="phase 1 through the platform's workers")

    geofence_log = tmp_path / "geofence-2.log"
    extra = [spawn("geofence.worker", geofence_log), spawn("alerts.worker", tmp_path / "alerts-2.log")]
    try:
        eventually(lambda: b"assigned" in geofence_log.read_bytes(), what="the second geofence worker's partitions")
        send_phase(ingest, people, 1, start)
        eventually(lambda: drained(admin, platform), what="phase 2 through two workers each")
        log = geofence_log.read_text()
        assert "geofence state restored for partitions" in log, log  # it did take people over
    finally:
        for process in extra:
            kill(process)

    # The survivors take the dead workers' partitions once their sessions expire.
    send_phase(ingest, people, 2, start)
    eventually(lambda: drained(admin, platform), what="phase 3 after the kill")

    try:
        eventually(lambda: episodes(admin_api, people) == expected, timeout_s=20, what="the scripted episodes")
    except AssertionError:
        assert episodes(admin_api, people) == expected  # shows the difference
    for person in people:
        for alert in admin_api.call("GET", f"/alerts?supervisee_id={person['id']}"):
            kinds = [e["kind"] for e in admin_api.call("GET", f"/alerts/{alert['id']}/events")]
            assert kinds.count("opened") == 1 and kinds.count("ended") == 1, (person["role"], kinds)
