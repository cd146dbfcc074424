"""The notifier interface: the configured class by dotted path, and the default that logs one line
per batch with a few examples, never everyone."""

import logging
from datetime import UTC, datetime

import pytest

from rollcall import notify


class Recording:
    def __init__(self):
        self.sent = []

    def notify(self, notices):
        self.sent.extend(notices)


def test_the_default_logs_one_line_with_a_few_examples(caplog):
    ids = list(range(1, 100_001))
    batch = notify.NoticeBatch(7, datetime(2026, 12, 3, 9, 30, tzinfo=UTC), ids, ["13800000000"] * len(ids))
    assert len(batch) == 100_000 and batch[-1].supervisee_id == 100_000 and "17:30" in batch[0].text
    with caplog.at_level(logging.INFO, logger="ewall.rollcall.notify"):
        notify.LoggingNotifier().notify(batch)
    [line] = caplog.messages
    assert line.startswith("roll call 7: 100000 notices, e.g. 1 13800000000") and line.count("Roll call") == 3


def test_the_notifier_is_a_setting():
    assert isinstance(notify.notifier_from("rollcall.notify.LoggingNotifier"), notify.LoggingNotifier)
    assert isinstance(notify.notifier_from(f"{__name__}.Recording"), notify.Notifier)
    with pytest.raises(RuntimeError, match="names no class"):
        notify.notifier_from("rollcall.notify.Nothing")
