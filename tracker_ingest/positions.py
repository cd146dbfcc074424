"""Storing fixes and reading positions back: COPY into the partitioned table, last positions,
live positions and tracks."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from core.db import copy_rows
from tracker_ingest.models import Fix, LastPosition
from tracker_ingest.schemas import FixRecord

_STAGE_COLUMNS = (
    "supervisee_id",
    "ts",
    "device_id",
    "lat",
    "lon",
    "accuracy_m",
    "speed_mps",
    "heading_deg",
    "altitude_m",
    "battery_pct",
    "source",
    "received_at",
)

_CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS fix_stage (LIKE fix INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
_MOVE_STAGE = """
INSERT INTO fix SELECT * FROM fix_stage ON CONFLICT DO NOTHING
"""
# Only a newer fix replaces the last position, so replays and late fixes never move it back.
_UPSERT_LAST = """
INSERT INTO last_position (supervisee_id, device_id, ts, lat, lon, accuracy_m, speed_mps, battery_pct,
                           source, updated_at)
SELECT DISTINCT ON (supervisee_id) supervisee_id, device_id, ts, lat, lon, accuracy_m, speed_mps,
       battery_pct, source, now()
FROM fix_stage ORDER BY supervisee_id, ts DESC
ON CONFLICT (supervisee_id) DO UPDATE SET
    device_id = EXCLUDED.device_id, ts = EXCLUDED.ts, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
    accuracy_m = EXCLUDED.accuracy_m, speed_mps = EXCLUDED.speed_mps, battery_pct = EXCLUDED.battery_pct,
    source = EXCLUDED.source, updated_at = now()
WHERE last_position.ts < EXCLUDED.ts
"""


def _utc(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


class PartitionKeeper:
    """Remembers which day partitions exist so the database is asked only about new days."""

    def __init__(self, days_ahead: int):
        self._days_ahead = days_ahead
        self._known: set[date] = set()

    def ensure(self, session: Session, days: set[date]) -> None:
        today = datetime.now(UTC).date()
        wanted = days | {today + timedelta(days=n) for n in range(-1, self._days_ahead + 1)}
        missing = wanted - self._known
        if not missing:
            return
        session.execute(
            text("SELECT fix_ensure_partitions(:first, :last)"), {"first": min(missing), "last": max(missing)}
        )
        self._known |= {min(missing) + timedelta(days=n) for n in range((max(missing) - min(missing)).days + 1)}


def store(session: Session, records: Sequence[FixRecord], partitions: PartitionKeeper) -> int:
    """Write fixes idempotently (the primary key absorbs replays) and move last positions forward."""
    rows = [
        (r.supervisee_id, _utc(f[0]), r.device_id, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], _utc(f[9]))
        for r in records
        for f in r.rows
    ]
    if not rows:
        return 0
    partitions.ensure(session, {row[1].date() for row in rows})
    session.execute(text(_CREATE_STAGE))
    copy_rows(session, "fix_stage", _STAGE_COLUMNS, rows)
    session.execute(text(_MOVE_STAGE))
    session.execute(text(_UPSERT_LAST))
    return len(rows)


def live_positions(session: Session, *, supervisee_ids: ColumnElement) -> Sequence[LastPosition]:
    """Last known positions of the given supervisees."""
    return session.scalars(
        select(LastPosition).where(LastPosition.supervisee_id.in_(supervisee_ids)).order_by(LastPosition.supervisee_id)
    ).all()


def track(
    session: Session, *, supervisee_id: int, since: datetime, until: datetime, limit: int = 50_000
) -> Sequence[Fix]:
    """Fixes of one supervisee in a time window, oldest first."""
    return session.scalars(
        select(Fix)
        .where(Fix.supervisee_id == supervisee_id, Fix.ts >= since, Fix.ts < until)
        .order_by(Fix.ts)
        .limit(limit)
    ).all()


def silent_since(session: Session, *, before: datetime) -> Sequence[tuple[int, datetime]]:
    """(supervisee_id, last fix time) for everyone whose last fix is older than ``before``."""
    return (
        session.execute(select(LastPosition.supervisee_id, LastPosition.ts).where(LastPosition.ts < before))
        .tuples()
        .all()
    )


def last_fix_times(session: Session, *, supervisee_ids: Sequence[int]) -> dict[int, datetime]:
    rows = session.execute(
        select(LastPosition.supervisee_id, LastPosition.ts).where(LastPosition.supervisee_id.in_(supervisee_ids))
    )
    return dict(rows.tuples().all())


def count_fixes(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Fix)) or 0
