"""A zone event the alerts worker cannot apply (a missing key) goes to zone-events.v1.dlq once, with
its error, and the events around it still become alerts (the real alerts worker)."""

import time

from sqlalchemy import text

from core import bus, dlq
from core.db import session_scope
from tests.factories import CENTRE, eventually


def zone_event(person: int, zone: int) -> dict:
    now_us = int(time.time() * 1e6)
    return {
        "id": f"{person}:{zone}:{now_us}:opened:{now_us}",
        "supervisee_id": person,
        "zone_id": zone,
        "rule": "inclusion_exit",
        "kind": "opened",
        "level": "yellow",
        "started_us": now_us - 60_000_000,
        "ts_us": now_us,
        "lat": CENTRE[0] + 0.01,
        "lon": CENTRE[1],
        "accuracy_m": 10.0,
        "distance_m": 600.0,
        "reason": "",
    }


def test_an_event_missing_a_key_is_dead_lettered_once_and_the_rest_become_alerts(platform, admin_api, db):
    district = admin_api.district()["id"]
    people = [admin_api.supervisee(district)["id"] for _ in range(2)]
    zones = [admin_api.home_zone(p)["id"] for p in people]
    poison = zone_event(people[0], zones[0])
    del poison["zone_id"]
    values = [
        bus.encode(zone_event(people[0], zones[0])),
        bus.encode(poison),
        bus.encode(zone_event(people[1], zones[1])),
    ]
    publisher = bus.Publisher()
    try:
        publisher.publish(bus.ZONE_EVENTS, [("same-partition", v, 0) for v in values])
    finally:
        publisher.close()

    def alerts() -> int:
        query = text("SELECT count(DISTINCT supervisee_id) FROM alert WHERE supervisee_id = ANY(:p)")
        return db.execute(query, {"p": people}).scalar_one()

    eventually(lambda: alerts() == 2, what="alerts for the events around the poison one")

    def parked() -> list[dlq.Entry]:
        with session_scope() as session:
            entries = dlq.list_entries(session=session, topics=[bus.ZONE_EVENTS])
        return [e for e in entries if e.value == values[1]]

    [entry] = eventually(parked, what="the poison event in zone-events.v1.dlq")
    assert entry.group == "alerts" and entry.error == "KeyError: 'zone_id'" and entry.partition == 0
