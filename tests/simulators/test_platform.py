"""The simulator against the real platform: registration through the portal API, then a replay over
the native batch API, OsmAnd and OwnTracks, with every fix accepted and stored."""

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from simulators import city, fleet, platform, senders, stream
from tests.conftest import ADMIN_PASSWORD
from tests.factories import eventually


def run(coroutine):
    """asyncio.run on a thread of its own: the browser tests' Playwright keeps a loop on this one."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def _stored(db, registration) -> int:
    db.rollback()
    return db.execute(
        text("SELECT count(*) FROM fix WHERE supervisee_id = ANY(:ids) AND source <> 'cctv'"),
        {"ids": registration.supervisee_ids},
    ).scalar_one()


def test_a_registered_fleet_replays_over_every_protocol_and_is_stored(portal_url, ingest_url, db, tmp_path):
    people = fleet.build(city.PRESETS["gaoqing"], 12, seed=77, scenario_share=0.0)

    def register() -> platform.Registration:
        return run(
            platform.register(
                people,
                portal_url,
                "admin",
                ADMIN_PASSWORD,
                district_code="SIMTEST",
                state_file=tmp_path / "s.json",
                progress=False,
            )
        )

    registration = register()
    assert len(set(registration.device_keys)) == 12
    # A person of a fleet registered before monitoring periods existed (or whose period ran out) gets
    # one again when the fleet is reused: outside a period their positions would be refused.
    lapsed = registration.supervisee_ids[0]
    db.execute(text("DELETE FROM monitoring_period WHERE supervisee_id = :id"), {"id": lapsed})
    db.commit()
    again = register()
    assert again == registration  # kept, not registered twice
    assert (
        db.execute(
            text("SELECT count(*) FROM monitoring_period WHERE supervisee_id = :id AND starts_on <= current_date"),
            {"id": lapsed},
        ).scalar_one()
        == 1
    )

    total = 0
    start = datetime.now(UTC) - timedelta(hours=3)
    for hour, protocol in enumerate(senders.PROTOCOLS):
        chunks = list(stream.run(people, start=start + timedelta(hours=hour), duration_s=1800))
        sent = sum(len(c.fixes) for c in chunks)
        sender = senders.Sender(people, registration, ingest_url, protocol)

        async def replay(sender=sender, chunks=chunks):
            try:
                return await senders.replay(iter(chunks), sender, speed=math.inf, progress=False)
            finally:
                await sender.close()

        tally = run(replay())
        assert (tally.accepted, tally.rejected, tally.failed) == (sent, 0, 0), (protocol, tally.reasons)
        # Duplicates the phones sent twice are stored once.
        # Duplicates the phones sent twice are stored once; OsmAnd and OwnTracks carry whole seconds.
        key = (lambda ts: round(ts, 3)) if protocol == "native" else int
        unique = {(int(row["person"]), key(float(row["ts"]))) for c in chunks for row in c.fixes}
        total += len(unique)
    eventually(lambda: _stored(db, registration) >= total, what=f"{total} simulated fixes stored")
