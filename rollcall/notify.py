"""Telling people of a roll call outside their phone page: an SMS gateway, say. Web Push is out of
reach here, so the phone page learns of roll calls from the rollcall.v1 stream (and on every load);
a notifier is the second way in. The platform's default only logs; a deployment names its own class in
``EWALL_ROLLCALL_NOTIFIER`` (dotted path; constructed without arguments)."""

import importlib
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import NamedTuple, Protocol, runtime_checkable

from core.logs import configure
from core.timezones import to_display

log = configure("ewall.rollcall.notify")
# A batch may hold a whole district: the log shows this many examples, never everyone.
EXAMPLES = 3
PHONE_PAGE_PATH = "/m/"


class Notice(NamedTuple):
    """One person to tell (a tuple: a district's 100,000 are built in a blink)."""

    supervisee_id: int
    phone: str | None  # the person's number on record; None: nothing to send an SMS to
    roll_call_id: int
    deadline_at: datetime
    text: str  # what to send: the deadline and the way to the phone page


def notice_text(deadline_at: datetime) -> str:
    return f"点名 Roll call: 请在 {to_display(deadline_at)[:16]} 前打开手机页面 {PHONE_PAGE_PATH} 应答。"


class NoticeBatch(Sequence[Notice]):
    """The notices of one roll call, made one by one as a notifier reads them: a district's 100,000
    cost nothing until sent (the logging notifier reads three)."""

    def __init__(self, roll_call_id: int, deadline_at: datetime, supervisee_ids: list[int], phones: list[str | None]):
        self._roll_call_id, self._deadline_at = roll_call_id, deadline_at
        self._ids, self._phones = supervisee_ids, phones
        self._text = notice_text(deadline_at)

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Notice(self._ids[index], self._phones[index], self._roll_call_id, self._deadline_at, self._text)


@runtime_checkable
class Notifier(Protocol):
    def notify(self, notices: Sequence[Notice]) -> None:
        """Send the notices; raising leaves them un-notified (the roll call stands either way)."""


class LoggingNotifier:
    """The default: one summary line per batch with a few examples."""

    def notify(self, notices: Sequence[Notice]) -> None:
        if not notices:
            return
        examples = "; ".join(f"{n.supervisee_id} {n.phone or '-'}: {n.text}" for n in notices[:EXAMPLES])
        log.info("roll call %d: %d notices, e.g. %s", notices[0].roll_call_id, len(notices), examples)


@cache
def notifier_from(dotted: str) -> Notifier:
    """The configured notifier (one instance per process)."""
    module_name, _, class_name = dotted.rpartition(".")
    try:
        made = getattr(importlib.import_module(module_name), class_name)()
    except (ImportError, AttributeError, ValueError) as exc:
        raise RuntimeError(f"EWALL_ROLLCALL_NOTIFIER={dotted!r} names no class: {exc}") from exc
    if not isinstance(made, Notifier):
        raise RuntimeError(f"EWALL_ROLLCALL_NOTIFIER={dotted!r} has no notify(notices) method")
    return made
