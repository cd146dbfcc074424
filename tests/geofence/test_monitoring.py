"""Outside an approved monitoring period (社区矫正法 art. 29) nobody is judged: the geofence worker skips
fixes stamped before a period begins or after it ends, while the same exit inside a period raises its
alert; ingest refuses such fixes outright, with the reason (after a release, before a period that
starts tomorrow), and still takes late fixes stamped inside the period."""

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from core import bus
from core.wire import FIX_DTYPE, encode_fix_record, wire_rows
from tests.factories import CENTRE, eventually, offset, post_fixes
from tracker_ingest import validation

OUT = offset(*CENTRE, north_m=1200)
US = 1_000_000


def record(person: int, place: tuple[float, float], first: datetime, count: int) -> bytes:
    """A fixes.v1 record of ``count`` fixes 30 s apart from ``first``, as ingest would publish it."""
    fixes = np.zeros(count, dtype=FIX_DTYPE)
    fixes["ts_us"] = [int(first.timestamp() * US) + 30 * US * i for i in range(count)]
    fixes["lat"], fixes["lon"], fixes["accuracy_m"] = place[0], place[1], 10
    fixes["speed_mps"] = fixes["heading_deg"] = fixes["altitude_m"] = np.nan
    fixes["battery_pct"] = -1
    return encode_fix_record(int(time.time() * US), wire_rows(person, 1, fixes))


def test_zones_are_judged_only_inside_a_monitoring_period(admin_api, platform):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    person = admin_api.supervisee(admin_api.district()["id"], monitored=False)
    admin_api.monitoring_period(person["id"], today - timedelta(days=20), today - timedelta(days=10))
    admin_api.monitoring_period(person["id"], today - timedelta(days=5), today + timedelta(days=30))
    admin_api.home_zone(person["id"])
    now = datetime.now(UTC).replace(microsecond=0)
    in_first, between, in_second = now - timedelta(days=15), now - timedelta(days=7), now - timedelta(hours=1)

    def alerts() -> list[dict]:
        # Not signal-lost: silent since the second period began, the watchdog rightly raises that too.
        found = admin_api.call("GET", f"/alerts?supervisee_id={person['id']}")
        return [a for a in found if a["rule"] == "inclusion_exit"]

    publisher = bus.Publisher()
    partition = person["id"] % publisher.partition_count(bus.FIXES)

    def publish(*records: bytes) -> None:
        publisher.publish(bus.FIXES, [(str(person["id"]), r, partition) for r in records])

    try:
        # Inside the first period an exit raises (retried, each time later, until the worker has loaded
        # the zone), and a return ends it.
        sent = [in_first]

        def exit_again() -> None:
            sent.append(sent[-1] + timedelta(minutes=2))
            publish(record(person["id"], OUT, sent[-1], 4))

        eventually(lambda: alerts() or exit_again(), what="the exit inside the first period")
        publish(record(person["id"], CENTRE, sent[-1] + timedelta(minutes=2), 2))
        eventually(lambda: alerts()[0]["ended_at"], what="back home")

        # After the first ends and before the second begins: the same exit is not judged; the one
        # inside the second raises an alert that begins with its own first fix, not the earlier one's.
        publish(record(person["id"], OUT, between, 4), record(person["id"], OUT, in_second, 4))
        second = eventually(lambda: [a for a in alerts() if a["ended_at"] is None], what="the second exit")
        assert datetime.fromisoformat(second[0]["started_at"]) == in_second
        assert len(alerts()) == 2
    finally:
        publisher.close()


def test_ingest_refuses_fixes_outside_the_period_with_the_reason(admin_api, ingest, platform):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    district = admin_api.district()["id"]
    tomorrow = admin_api.supervisee(district, monitored=False)
    admin_api.monitoring_period(tomorrow["id"], today + timedelta(days=1), today + timedelta(days=30))
    released = admin_api.supervisee(district)
    [period] = admin_api.call("GET", f"/supervisees/{released['id']}/monitoring-periods")
    before_release = datetime.now(UTC) - timedelta(minutes=5)
    admin_api.call(
        "POST", f"/supervisees/{released['id']}/monitoring-periods/{period['id']}/release", json={"reason": "解除"}
    )

    def fix(at: datetime) -> dict:
        return {"ts": at.isoformat(), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 10}

    for person in (tomorrow, released):
        device = admin_api.device(person["id"])
        token = device["token"]
        response = post_fixes(ingest, token, [fix(datetime.now(UTC))])
        assert response.status_code == 422, response.text
        assert response.json()["rejected"] == [{"index": 0, "error": validation.OUTSIDE_MONITORING}]
        # A cell-only report (OsmAnd/Traccar) is a position too.
        response = ingest.get("/", params={"id": device["external_id"], "cell": "460,0,4301,20911"})
        assert response.status_code == 400 and validation.OUTSIDE_MONITORING in response.text, response.text
    # A late fix from inside the period still counts.
    response = post_fixes(ingest, token, [fix(before_release)])
    assert response.status_code == 202 and response.json()["accepted"] == 1, response.text
