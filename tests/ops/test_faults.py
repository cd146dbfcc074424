"""Faults under load, against the real processes: while a simulated fleet's fixes stream in, each of
ingest, portal, persist, geofence, alerts, watchdog and the broker is SIGKILLed in turn and
PostgreSQL is restarted. Every acknowledged fix is stored once (but those the in-memory broker held
when it died), and no alert episode is raised twice. ``./ewall bench faults`` runs the same at
5,000 fixes/s and compares the alerts with a fault-free run."""

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bench import common, faults
from simulators import city, fleet
from simulators import platform as simulated_platform
from tests.conftest import ADMIN_PASSWORD, INSTANCE

RATE = 1000.0


def test_every_fault_mid_stream_loses_and_duplicates_nothing(platform, portal_url, tmp_path):
    people = fleet.build(city.PRESETS["benxi"], 60, seed=12)
    register = simulated_platform.register(
        people, portal_url, "admin", ADMIN_PASSWORD, district_code="FAULTS", state_file=tmp_path / "r.json"
    )
    with ThreadPoolExecutor(1) as thread:  # Playwright may hold this thread's event loop
        registration = thread.submit(asyncio.run, register).result()
    count = int(RATE * (2 * faults.LEAD_S + len(faults.FAULTS) * 9))
    fixes = common.simulated_fixes(people, count, end=datetime.now(UTC) - timedelta(minutes=1))
    outcome = faults.run(platform, registration, fixes, RATE, faults.FAULTS, instance=INSTANCE)
    print({k: v for k, v in outcome.items() if k != "episodes"}, file=sys.stderr)
    assert set(outcome["restart_s"]) == set(faults.FAULTS)
    assert outcome["lost"] == 0
    assert outcome["duplicate_fixes"] == 0
    assert outcome["duplicate_episodes"] == 0
