"""A fixes.v1 record that decodes but cannot be stored goes to fixes.v1.dlq once, with its error; the
good records around it are stored and the partition keeps flowing (the real persist worker)."""

import random
import time

import numpy as np
from sqlalchemy import text

from core import bus, dlq
from core.db import session_scope
from core.wire import FIX_DTYPE, encode_fix_record, wire_rows
from tests.factories import CENTRE, eventually

PARTITION = 2


def fix_record(person: int, times_us: list[int]) -> bytes:
    fixes = np.zeros(len(times_us), dtype=FIX_DTYPE)
    fixes["ts_us"] = times_us
    fixes["lat"], fixes["lon"], fixes["accuracy_m"] = CENTRE[0], CENTRE[1], 10
    fixes["speed_mps"] = fixes["heading_deg"] = fixes["altitude_m"] = np.nan
    fixes["battery_pct"] = -1
    return encode_fix_record(int(time.time() * 1e6), wire_rows(person, 1, fixes))


def persist_entries(value: bytes) -> list[dlq.Entry]:
    with session_scope() as session:
        entries = dlq.list_entries(session=session, topics=[bus.FIXES])
    return [e for e in entries if e.value == value and e.group == "persist"]


def test_a_poison_fix_record_is_dead_lettered_once_and_the_rest_is_stored(platform, db):
    # No foreign keys on `fix`: any id will do, and one of our own keeps the count exact.
    person = random.randrange(10**8, 2 * 10**8) // 4 * 4 + PARTITION
    now_us = int(time.time() * 1e6) - 3_600_000_000
    good = [fix_record(person, [now_us + i * 1_000_000 + n * 100_000_000 for i in range(3)]) for n in range(3)]
    poison = fix_record(person, [2**62])  # decodes, but no day partition can hold it
    publisher = bus.Publisher()
    try:
        publisher.publish(bus.FIXES, [(str(PARTITION), v, PARTITION) for v in (good[0], poison, good[1])])

        def stored() -> int:
            return db.execute(text("SELECT count(*) FROM fix WHERE supervisee_id = :p"), {"p": person}).scalar_one()

        eventually(lambda: stored() == 6, what="the good fixes around the poison record")
        [entry] = eventually(lambda: persist_entries(poison), what="the poison record in fixes.v1.dlq")
        assert entry.error.startswith("OverflowError") and entry.partition == PARTITION
        assert entry.key == str(PARTITION).encode()

        # The worker keeps consuming that partition, and never dead-letters the record again.
        publisher.publish(bus.FIXES, [(str(PARTITION), good[2], PARTITION)])
        eventually(lambda: stored() == 9, what="a record published after the poison one")
    finally:
        publisher.close()
    assert len(persist_entries(poison)) == 1
