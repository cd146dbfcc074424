"""The platform's own outages: when ingest or persist was down or behind, a supervisee's silence is
not theirs (issue #12). Each watchdog round looks at the platform and keeps ``platform_outage``
current; signal-lost checks measure silence without these windows and acknowledgement clocks stop
over them (alerts.sla).

What counts, with core's readiness thresholds:
- ``ingest_down`` / ``persist_down``: no process of the role beat for over
  ``ready_heartbeat_max_age_s``. Beats are not kept as a history, but every process keeps its row
  (started_at, last beat) for a day, so the stretches no process covered are read from the rows: a
  stretch the watchdog did not see because it was down itself (a rebooted machine) is recorded when
  it is back, from the same evidence. Before a role's earliest row, the stretch counts from the
  watchdog's own previous round (rows of processes gone a day are forgotten, the round is not).
- ``persist_behind``: the persist group is more than ``ready_max_lag_records`` behind (fixes are
  waiting in the broker, last positions are old); from the round that saw it to the round that no
  longer does.
- ``broker_down``: the broker does not answer (ingest cannot take fixes); likewise.
- any other cause (e.g. ``maintenance``) is declared by an operator and closed by them."""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from alerts.models import PlatformOutage, WatchdogRound
from core import bus, health
from core.config import get_settings
from core.heartbeat import ProcessHeartbeat
from core.logs import configure
from core.timezones import utcnow

WATCHED_ROLES = ("ingest", "persist")
OBSERVED = frozenset({"ingest_down", "persist_down", "persist_behind", "broker_down"})
ROUND = "platform"
log = configure("ewall.watchdog")

Window = tuple[datetime, datetime | None]  # (start, end); end None: still going on


def down_stretches(
    lives: Iterable[tuple[datetime, datetime]], *, since: datetime | None, now: datetime, max_age: timedelta
) -> list[Window]:
    """Stretches no process of a role covered, from each process's (started_at, last beat): a process
    covers its life and ``max_age`` past its last beat. Only stretches still going on or ending after
    ``since`` (the watchdog's previous round; older ones were recorded then)."""
    merged: list[list[datetime]] = []
    for started, beat in sorted(lives):
        if merged and started <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], beat + max_age)
        else:
            merged.append([started, beat + max_age])
    gaps: list[Window] = []
    if since is not None and (not merged or merged[0][0] - since > max_age):
        gaps.append((since, merged[0][0] if merged else None))
    gaps += [(a[1] - max_age, b[0]) for a, b in pairwise(merged)]
    if merged and now > merged[-1][1]:
        gaps.append((merged[-1][1] - max_age, None))
    return [(start, end) for start, end in gaps if end is None or since is None or end > since]


def _previous_round(session: Session, now: datetime) -> datetime | None:
    """The previous round's time, locking the round's row so that two watchdogs take turns."""
    session.execute(insert(WatchdogRound).values(name=ROUND, at=now).on_conflict_do_nothing())
    row = session.scalar(select(WatchdogRound).where(WatchdogRound.name == ROUND).with_for_update())
    previous = row.at if row.at < now else None
    row.at = max(row.at, now)
    return previous


def _lives(session: Session, role: str) -> list[tuple[datetime, datetime]]:
    rows = session.execute(
        select(ProcessHeartbeat.started_at, ProcessHeartbeat.beat_at).where(ProcessHeartbeat.role == role)
    )
    return [(started, beat) for started, beat in rows]


def observe(*, session: Session, now: datetime | None = None, lags: dict[str, int] | None = None) -> list[str]:
    """One look at the platform: open, extend and close the observed outage windows. Returns the
    causes open now. ``lags`` (consumer group → records behind) is read from the broker if not given."""
    settings = get_settings()
    now = now or utcnow()
    max_age = timedelta(seconds=settings.ready_heartbeat_max_age_s)
    since = _previous_round(session, now)
    found: dict[str, list[Window]] = {}
    for role in WATCHED_ROLES:
        found[f"{role}_down"] = down_stretches(_lives(session, role), since=since, now=now, max_age=max_age)
    detail: dict = {}
    try:
        lags = health.group_lags(settings) if lags is None else lags
        behind = lags.get("persist", 0) > settings.ready_max_lag_records
        found["persist_behind"] = [(now, None)] if behind else []
        found["broker_down"] = []
        detail = {"persist_lag_records": lags.get("persist", 0)}
    except bus.BrokerUnavailable as exc:
        found["broker_down"] = [(now, None)]
        detail = {"broker": str(exc)[:200]}
    except Exception:
        # Lag unknown is not lag: those windows stay as they are, the heartbeats are still judged.
        log.exception("consumer-group lag not read; persist_behind and broker_down left as they are")
    return _keep(session, found, now, detail)


def _keep(session: Session, found: dict[str, list[Window]], now: datetime, detail: dict) -> list[str]:
    open_rows = {
        row.cause: row for row in session.scalars(select(PlatformOutage).where(PlatformOutage.ended_at.is_(None)))
    }
    still_open = []
    for cause, stretches in found.items():
        row = open_rows.get(cause)
        for start, end in stretches:
            if row is not None and (end is None or row.started_at <= end):
                # The open window goes on, or this stretch is how it ended.
                row.ended_at = end
                row.detail = {**row.detail, **detail}
                if end is None:
                    still_open.append(cause)
                row = None
                continue
            statement = insert(PlatformOutage).values(
                cause=cause, started_at=start, ended_at=end, detail=detail if end is None else {}
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["cause", "started_at"], set_={"ended_at": statement.excluded.ended_at}
                )
            )
            if end is None:
                still_open.append(cause)
        if row is not None:
            row.ended_at = max(now, row.started_at)  # no longer seen: over since this round
    session.flush()
    return still_open


def open_causes(*, session: Session) -> list[str]:
    return list(session.scalars(select(PlatformOutage.cause).where(PlatformOutage.ended_at.is_(None))))


def windows(*, session: Session, since: datetime, until: datetime) -> list[Window]:
    """Every outage window touching [since, until], overlapping ones merged, in time order."""
    rows = session.execute(
        select(PlatformOutage.started_at, PlatformOutage.ended_at)
        .where(
            PlatformOutage.scope == "platform",
            PlatformOutage.started_at < until,
            or_(PlatformOutage.ended_at.is_(None), PlatformOutage.ended_at > since),
        )
        .order_by(PlatformOutage.started_at)
    )
    merged: list[Window] = []
    for start, end in rows:
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
            last_end = merged[-1][1]
            merged[-1] = (merged[-1][0], None if last_end is None or end is None else max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def is_open(outages: Sequence[Window]) -> bool:
    return any(end is None for _, end in outages)


def overlap(start: datetime, end: datetime, outages: Sequence[Window]) -> timedelta:
    """How much of [start, end] the outage windows cover."""
    covered = timedelta(0)
    for w_start, w_end in outages:
        lo, hi = max(start, w_start), min(end, w_end or end)
        covered += max(hi - lo, timedelta(0))
    return covered


def advance(start: datetime, span: timedelta, outages: Sequence[Window]) -> datetime | None:
    """The moment ``span`` of time outside the outage windows has passed since ``start``; None while
    an open window holds the clock."""
    at, left = start, span
    for w_start, w_end in outages:
        if w_end is not None and w_end <= at:
            continue
        if w_start > at:
            if w_start - at >= left:
                return at + left
            left -= w_start - at
        if w_end is None:
            return None
        at = max(at, w_end)
    return at + left
