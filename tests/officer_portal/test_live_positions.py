"""The live positions feed of the caseload map (GET /api/v1/positions/stream): fixes posted through
ingest reach the maps whose caseload holds the person, coalesced to the latest per person, and no
one else's."""

import math

import httpx
import numpy as np
import pytest

from officer_portal import live_positions
from tests.factories import CENTRE, eventually, now_iso, post_fixes, signed_in_as
from tests.officer_portal.test_live import EventStream

STREAM = "/api/v1/positions/stream"


def _columns(rows: list[tuple[int, int, float]]) -> dict[str, np.ndarray]:
    ids, times, lats = zip(*rows, strict=True)
    return {
        "supervisee_id": np.array(ids, np.int32),
        "ts_us": np.array(times, np.int64),
        "lat": np.array(lats),
        "lon": np.array(lats) + 80,
        "accuracy_m": np.array([math.nan if i == 3 else 5.0 for i in ids], np.float32),
    }


def test_each_person_keeps_their_latest_fix_by_fix_time_not_arrival():
    latest = live_positions.latest_per_person(_columns([(2, 5_000, 41.2), (1, 9_000, 41.1), (2, 3_000, 41.0)]))
    assert latest["supervisee_id"].tolist() == [1, 2]
    assert latest["lat"].tolist() == [41.1, 41.2]


def test_a_map_gets_only_its_caseload_with_unreported_accuracy_as_null():
    latest = live_positions.latest_per_person(_columns([(1, 1_000_000, 41.0), (3, 2_000_000, 41.5), (7, 1, 40.0)]))
    batch = live_positions.batch_for(latest, np.array([3, 5, 7], np.int64))
    assert batch == {"id": [3, 7], "ts": [2_000, 0], "lat": [41.5, 40.0], "lon": [121.5, 120.0], "acc": [None, 5.0]}
    assert live_positions.batch_for(latest, np.array([2, 4], np.int64)) is None
    assert live_positions.batch_for(latest, np.empty(0, np.int64)) is None


@pytest.fixture(scope="module")
def two_officers(admin_api, portal_url):
    district = admin_api.district()
    found = {}
    for name in ("alice", "bob"):
        officer = admin_api.officer(district["id"])
        person = admin_api.supervisee(district["id"], officer["id"])
        found[name] = {
            "api": signed_in_as(portal_url, officer),
            "person": person,
            "token": admin_api.device(person["id"])["token"],
        }
    return found


def test_positions_reach_the_caseload_map_and_no_one_else(ingest, two_officers):
    alice, bob = two_officers["alice"], two_officers["bob"]
    stream = EventStream(alice["api"].client, path=STREAM)
    try:
        assert stream.next("ready")["data"] == {"people": 1}
        mine = alice["person"]["id"]

        def moved():
            # Fixes keep coming, as phones send them; Bob's person moves at the same moments.
            for who, north in ((bob, 0.002), (alice, 0.001)):
                fix = {"ts": now_iso(), "lat": CENTRE[0] + north, "lon": CENTRE[1], "accuracy_m": 12}
                assert post_fixes(ingest, who["token"], [fix]).status_code == 202
            return stream.next("positions")["data"]

        batch = eventually(lambda: (b := moved()) and mine in b["id"] and b, every_s=0.2, what="alice's position")
        at = batch["id"].index(mine)
        assert batch["lat"][at] == pytest.approx(CENTRE[0] + 0.001)
        assert batch["acc"][at] == 12.0
        seen = {i for e in stream.received if e.get("event") == "positions" for i in e["data"]["id"]}
        assert seen == {mine}, "Bob's supervisee never reaches Alice's map"
    finally:
        stream.close()


def test_the_positions_stream_needs_a_signed_in_officer(portal_url):
    assert httpx.get(f"{portal_url}{STREAM}").status_code == 401
