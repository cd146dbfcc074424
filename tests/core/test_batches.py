"""The consumer's failure policy on its own (no broker needed): poison records are isolated and the
rest of the batch is processed in order; an outage is waited out and never dead-letters anything."""

import logging

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from core import batches
from core.batches import BatchRunner, Outage, Stopped


def refused() -> OperationalError:
    return OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))


class Recorder:
    """A handler that fails on the records named poison, and on everything while ``down``."""

    def __init__(self, poison: set[int], down_calls: int = 0):
        self.poison = poison
        self.down_calls = down_calls
        self.done: list[int] = []
        self.calls = 0

    def __call__(self, records: list[int]) -> list:
        self.calls += 1
        if self.down_calls:
            self.down_calls -= 1
            raise refused()
        bad = self.poison.intersection(records)
        if bad:
            raise IntegrityError("INSERT", {}, psycopg.errors.CheckViolation(f"record {min(bad)} violates"))
        self.done += records
        return []


def runner(handler, caplog, stop=lambda: False) -> tuple[BatchRunner, list[float]]:
    waits: list[float] = []
    log = logging.getLogger("test.batches")
    outage = Outage(log, waits.append, stop)
    return BatchRunner(handler, log=log, outage=outage, wait=waits.append), waits


def test_poison_records_are_isolated_and_the_rest_processed_in_order(caplog):
    handler = Recorder(poison={3, 11})
    run, _ = runner(handler, caplog)
    failures = run.run(list(range(16)))
    assert [record for record, _ in failures] == [3, 11]
    assert all("CheckViolation" in reason for _, reason in failures)
    assert handler.done == [r for r in range(16) if r not in (3, 11)]


def test_an_outage_is_waited_out_with_doubling_back_off_and_logged_once_each_way(caplog):
    caplog.set_level(logging.INFO)
    handler = Recorder(poison=set(), down_calls=7)
    run, waits = runner(handler, caplog)
    assert run.run([1, 2, 3]) == []
    assert handler.done == [1, 2, 3]
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "database unreachable" in m]) == 1
    assert len([m for m in messages if m.startswith("database back after")]) == 1


def test_an_outage_while_isolating_poison_dead_letters_nothing_more(caplog):
    class DownOnce(Recorder):
        def __call__(self, records):
            if self.calls == 3:  # the first half, after three tries of the whole batch
                self.calls += 1
                raise refused()
            return super().__call__(records)

    handler = DownOnce(poison={5})
    run, _ = runner(handler, caplog)
    assert [record for record, _ in run.run(list(range(8)))] == [5]
    assert handler.done == [0, 1, 2, 3, 4, 6, 7]


def test_stopping_during_an_outage_leaves_the_batch_unfinished(caplog):
    handler = Recorder(poison=set(), down_calls=100)
    run, _ = runner(handler, caplog, stop=lambda: True)
    with pytest.raises(Stopped):
        run.run([1])
    assert handler.done == []


def test_what_counts_as_an_outage():
    assert batches.outage_of(refused()) == "database"
    assert batches.outage_of(psycopg.errors.AdminShutdown("terminating connection")) == "database"
    assert batches.outage_of(IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("dup"))) is None
    assert batches.outage_of(KeyError("zone_id")) is None
    from core.bus import BrokerUnavailable

    assert batches.outage_of(BrokerUnavailable("no ack")) == "broker"
