"""Dead-letter queues: an entry says where its record came from and why it failed; admins list
entries and replay them to their source partition, once (CLI and API)."""

import base64
import getpass

import pytest

from core import bus, dlq
from core.db import session_scope
from ops import cli
from tests.factories import signed_in_as, unique

# No worker reads check-ins yet, so a replayed record stays where the test can see it.
TOPIC = bus.CHECKINS


def _source_records(settings) -> list:
    return dlq.read_all([TOPIC], settings)


@pytest.fixture
def parked(services):
    """A binary record on TOPIC, dead-lettered the way a consumer does; returns (record, entry)."""
    value = b"\x00\xffbinary " + unique("rec").encode()
    publisher = bus.Publisher()
    try:
        publisher.publish(TOPIC, [("42", value, 1)])
        record = next(r for r in _source_records(services) if r.value == value)
        bus.dead_letter(publisher, TOPIC, [(record, "KeyError: 'zone_id'")], group="alerts")
    finally:
        publisher.close()
    with session_scope() as session:
        entries = dlq.list_entries(session=session, topics=[TOPIC])
    return record, next(e for e in entries if e.value == value)


def test_an_entry_carries_what_an_admin_needs(parked):
    record, entry = parked
    assert (entry.topic, entry.partition, entry.offset) == (TOPIC, 1, record.offset)
    assert (entry.key, entry.group, entry.error) == (b"42", "alerts", "KeyError: 'zone_id'")
    assert entry.failed_at and entry.replayed_at is None
    shown = entry.as_dict()
    assert base64.b64decode(shown["value_b64"]) == record.value
    assert shown["preview"].startswith("<") and shown["key"] == "42"


def test_cli_replays_to_the_source_partition_once(parked, services, capsys):
    record, _ = parked
    assert cli.main(["dlq", "list", "--topic", TOPIC]) == 0
    assert f"{TOPIC} 1:{record.offset}" in capsys.readouterr().out

    assert cli.main(["dlq", "replay", "--topic", TOPIC, "--offset", f"1:{record.offset}"]) == 0
    assert "replayed 1 record(s)" in capsys.readouterr().out
    copies = [r for r in _source_records(services) if r.value == record.value]
    assert len(copies) == 2 and copies[1].partition == 1 and copies[1].key == b"42"
    assert copies[1].offset > record.offset

    # Again, by accident: nothing is republished, and the listing says who replayed it.
    assert cli.main(["dlq", "replay", "--topic", TOPIC, "--offset", f"1:{record.offset}"]) == 0
    out = capsys.readouterr().out
    assert "replayed 0 record(s)" in out and "1 of the 1 selected had been replayed before" in out
    assert len([r for r in _source_records(services) if r.value == record.value]) == 2
    with session_scope() as session:
        again = next(e for e in dlq.list_entries(session=session, topics=[TOPIC]) if e.value == record.value)
    assert again.replayed_by == f"cli:{getpass.getuser()}" and again.replayed_at is not None


def test_admin_api_lists_and_replays_and_other_roles_may_not(parked, admin_api, portal_url, services):
    record, _ = parked
    listed = admin_api.call("GET", "/admin/dlq", params={"topic": TOPIC})
    mine = [e for e in listed if e["value_b64"] == base64.b64encode(record.value).decode()]
    assert len(mine) == 1 and mine[0]["error"] == "KeyError: 'zone_id'" and mine[0]["replayed_at"] is None

    body = {"topic": TOPIC, "offsets": [{"partition": 1, "offset": record.offset}]}
    assert admin_api.call("POST", "/admin/dlq/replay", json=body) == {"matched": 1, "replayed": 1, "already": 0}
    assert admin_api.call("POST", "/admin/dlq/replay", json=body) == {"matched": 1, "replayed": 0, "already": 1}
    assert len([r for r in _source_records(services) if r.value == record.value]) == 2

    officer = admin_api.officer(admin_api.district()["id"])
    staff = signed_in_as(portal_url, officer)
    staff.call("GET", "/admin/dlq", 403)
    staff.call("POST", "/admin/dlq/replay", 403, json={"all": True})
    admin_api.call("POST", "/admin/dlq/replay", 422, json={"topic": TOPIC})
