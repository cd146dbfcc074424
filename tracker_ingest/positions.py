"""Storing fixes and reading positions back: COPY into the partitioned table, last positions,
live positions and tracks."""

import struct
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
from sqlalchemy import ColumnElement, Row, Select, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer
from core.config import Settings
from core.db import copy_binary, delete_in_batches
from core.wire import SOURCES, FixRecord, fix_arrays
from tracker_ingest.models import Fix, LastPosition, RadioReport, Sighting, UnknownDevice

# Replays go through a staging table shaped like `fix`, so the primary key can skip stored rows.
_CREATE_STAGE = "CREATE TEMP TABLE IF NOT EXISTS fix_stage (LIKE fix) ON COMMIT DELETE ROWS"
_MOVE_STAGE = "INSERT INTO fix SELECT * FROM fix_stage ON CONFLICT DO NOTHING"
# Only a newer fix replaces the last position, so replays and late fixes never move it back.
_UPSERT_LAST = """
INSERT INTO last_position (supervisee_id, device_id, ts, lat, lon, accuracy_m, speed_mps, battery_pct,
                           source, updated_at)
SELECT DISTINCT ON (supervisee_id) supervisee_id, device_id, ts, lat, lon, accuracy_m, speed_mps, battery_pct,
       source, now()
FROM fix WHERE (supervisee_id, ts, device_id) IN (
    SELECT * FROM unnest(CAST(:people AS int4[]), CAST(:times AS timestamptz[]), CAST(:devices AS int4[])))
ORDER BY supervisee_id, ts DESC
ON CONFLICT (supervisee_id) DO UPDATE SET
    device_id = EXCLUDED.device_id, ts = EXCLUDED.ts, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
    accuracy_m = EXCLUDED.accuracy_m, speed_mps = EXCLUDED.speed_mps, battery_pct = EXCLUDED.battery_pct,
    source = EXCLUDED.source, updated_at = now()
WHERE last_position.ts < EXCLUDED.ts
"""
_PG_EPOCH_US = 946_684_800_000_000  # PostgreSQL counts timestamps from 2000-01-01
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
# Binary COPY has no fixed row width once values may be NULL or text, so rows are grouped by which
# optional values they carry (and their source word); each group is one fixed layout built by
# numpy. A batch usually holds one or two such groups.
_NULLABLE = (
    ("accuracy_m", ">f8"),
    ("speed_mps", ">f8"),
    ("heading_deg", ">f8"),
    ("altitude_m", ">f8"),
    ("battery_pct", ">i2"),
)


def _direct_layout(present: tuple[bool, ...], source: bytes) -> np.dtype:
    fields = [("fields", ">i2")]
    for name, kind in (("supervisee_id", ">i4"), ("ts", ">i8"), ("device_id", ">i4"), ("lat", ">f8"), ("lon", ">f8")):
        fields += [(f"{name}_len", ">i4"), (name, kind)]
    for (name, kind), here in zip(_NULLABLE, present, strict=True):
        fields += [(f"{name}_len", ">i4")] + ([(name, kind)] if here else [])
    fields += [("source_len", ">i4"), ("source", f"S{len(source)}"), ("received_at_len", ">i4"), ("received_at", ">i8")]
    return np.dtype(fields)


def binary_copy_rows(columns: dict[str, np.ndarray]) -> bytes:
    """The fixes of a batch as a PostgreSQL binary COPY stream in the column order of `fix`."""
    present = np.stack(
        [~np.isnan(columns[name]) if name != "battery_pct" else columns[name] >= 0 for name, _ in _NULLABLE], axis=1
    )
    pattern = present.astype(np.int64) @ (1 << np.arange(len(_NULLABLE))) * 8 + columns["source"]
    chunks = [_COPY_HEADER]
    for key in np.unique(pattern):
        chosen = np.flatnonzero(pattern == key)
        flags = tuple(bool(f) for f in present[chosen[0]])
        source = SOURCES[int(columns["source"][chosen[0]])].value.encode()
        rows = np.empty(len(chosen), dtype=_direct_layout(flags, source))
        rows["fields"] = 12
        for name in rows.dtype.names:
            if name.endswith("_len"):
                rows[name] = rows.dtype[name[:-4]].itemsize if name[:-4] in rows.dtype.names else -1
        rows["supervisee_id"] = columns["supervisee_id"][chosen]
        rows["ts"] = columns["ts_us"][chosen] - _PG_EPOCH_US
        rows["device_id"] = columns["device_id"][chosen]
        rows["lat"], rows["lon"] = columns["lat"][chosen], columns["lon"][chosen]
        for (name, _), here in zip(_NULLABLE, flags, strict=True):
            if here:
                rows[name] = columns[name][chosen]
        rows["source"] = source
        rows["received_at"] = columns["received_us"][chosen] - _PG_EPOCH_US
        chunks.append(rows.tobytes())
    chunks.append(_COPY_TRAILER)
    return b"".join(chunks)


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


def _days(ts_us: np.ndarray) -> set[date]:
    epoch_days = np.unique(ts_us // 86_400_000_000)
    return {date(1970, 1, 1) + timedelta(days=int(d)) for d in epoch_days}


def _latest_per_person(columns: dict[str, np.ndarray]) -> tuple[list[int], list[datetime], list[int]]:
    order = np.lexsort((columns["ts_us"], columns["supervisee_id"]))
    people = columns["supervisee_id"][order]
    last = order[np.append(people[1:] != people[:-1], True)]
    return (
        columns["supervisee_id"][last].tolist(),
        [_utc(us) for us in columns["ts_us"][last].tolist()],
        columns["device_id"][last].tolist(),
    )


def store(session: Session, records: Sequence[FixRecord], partitions: PartitionKeeper) -> int:
    """Write fixes idempotently (the primary key absorbs replays) and move last positions forward."""
    columns = fix_arrays(records)
    if not len(columns["ts_us"]):
        return 0
    partitions.ensure(session, _days(columns["ts_us"]))
    stream = binary_copy_rows(columns)
    try:
        # The usual case, new fixes: straight into `fix`.
        with session.begin_nested():
            copy_binary(session, "fix", stream)
    except psycopg.errors.UniqueViolation:
        # A replay (a worker restarted before committing its offsets).
        session.execute(text(_CREATE_STAGE))
        copy_binary(session, "fix_stage", stream)
        session.execute(text(_MOVE_STAGE))
    people, times, devices = _latest_per_person(columns)
    session.execute(text(_UPSERT_LAST), {"people": people, "times": times, "devices": devices})
    return len(columns["ts_us"])


def live_positions(
    session: Session, *, supervisee_ids: ColumnElement, limit: int | None = None, offset: int = 0
) -> Sequence[Row]:
    """Last known positions of the given supervisees, by supervisee id: rows with LastPosition's
    columns as attributes (plain rows, not ORM objects: a province's 10,000 read in about a third of the time)."""
    query = select(LastPosition.__table__).where(LastPosition.supervisee_id.in_(supervisee_ids))
    return session.execute(query.order_by(LastPosition.supervisee_id).limit(limit).offset(offset)).all()


# A live read lists whose positions were shown up to this many people; beyond, only the count (the
# scope is the viewer's district and role), so a command centre's map polling all day stays small.
LIVE_READ_IDS_MAX = 200


def read_live_positions(
    session: Session, *, viewer: Officer, via: str, limit: int | None = None, offset: int = 0
) -> Sequence[Row]:
    """The viewer's caseload's last positions (a page of them); the read is audited, one entry per read
    (the map polls every 30 s), in the viewer's district."""
    visible = caseload_scope.visible_supervisee_ids(session=session, viewer=viewer)
    rows = live_positions(session, supervisee_ids=visible, limit=limit, offset=offset)
    ids = [p.supervisee_id for p in rows]
    detail = {"via": via, "role": viewer.role.value, "count": len(ids)}
    if len(ids) <= LIVE_READ_IDS_MAX:
        detail["supervisee_ids"] = ids
    caseload_service.record(session, viewer, "positions.live_read", viewer.district_id, detail)
    return rows


def track(
    session: Session, *, supervisee_id: int, since: datetime, until: datetime, limit: int = 50_000
) -> Sequence[Row]:
    """Fixes of one supervisee in a time window, oldest first, as rows with `fix`'s columns (plain rows
    load a week of fixes several times faster than ORM objects)."""
    return session.execute(
        select(*Fix.__table__.columns)
        .where(Fix.supervisee_id == supervisee_id, Fix.ts >= since, Fix.ts < until)
        .order_by(Fix.ts)
        .limit(limit)
    ).all()


def silent_since(session: Session, *, before: datetime) -> Sequence[tuple[int, datetime]]:
    """(supervisee_id, last fix time) for everyone whose last fix is older than ``before``."""
    rows = session.execute(select(LastPosition.supervisee_id, LastPosition.ts).where(LastPosition.ts < before))
    return [(supervisee_id, ts) for supervisee_id, ts in rows]


def reported_ids() -> Select:
    """A subquery of everyone who has ever reported a position, for other domains' queries."""
    return select(LastPosition.supervisee_id)


def last_fix_times(session: Session, *, supervisee_ids: Sequence[int]) -> dict[int, datetime]:
    rows = session.execute(
        select(LastPosition.supervisee_id, LastPosition.ts).where(LastPosition.supervisee_id.in_(supervisee_ids))
    )
    return {supervisee_id: ts for supervisee_id, ts in rows}


def record_unknown_devices(
    session: Session, pending: dict[tuple[str, str], list], *, per_addr_hour: int, per_day: int
) -> None:
    """Add attempts by unregistered devices to the list admins see. New ones only up to ``per_addr_hour``
    per source address in the last hour and ``per_day`` in all in the last day, counted in the table
    itself, so that the bound holds across ingest processes; known ones always count their attempts."""
    rows = [
        {
            "protocol": protocol,
            "device_key": key,
            "first": first,
            "last": last,
            "attempts": attempts,
            "addr": addr,
            "per_addr_hour": per_addr_hour,
            "per_day": per_day,
        }
        for (protocol, key), (first, last, attempts, addr) in pending.items()
    ]
    session.execute(
        text("""
        INSERT INTO unknown_device (protocol, device_key, first_seen_at, last_seen_at, attempts, last_remote_addr)
        SELECT * FROM (VALUES (
            CAST(:protocol AS varchar), CAST(:device_key AS varchar), CAST(:first AS timestamptz),
            CAST(:last AS timestamptz), CAST(:attempts AS integer), CAST(:addr AS varchar)
        )) AS new (protocol, device_key, first_seen_at, last_seen_at, attempts, last_remote_addr)
        WHERE EXISTS (SELECT FROM unknown_device u WHERE u.protocol = new.protocol AND u.device_key = new.device_key)
           OR ((SELECT count(*) FROM unknown_device u
                WHERE u.last_remote_addr IS NOT DISTINCT FROM new.last_remote_addr
                  AND u.first_seen_at > now() - interval '1 hour') < :per_addr_hour
               AND (SELECT count(*) FROM unknown_device u WHERE u.first_seen_at > now() - interval '1 day') < :per_day)
        ON CONFLICT (protocol, device_key) DO UPDATE SET
            last_seen_at = greatest(unknown_device.last_seen_at, EXCLUDED.last_seen_at),
            attempts = unknown_device.attempts + EXCLUDED.attempts,
            last_remote_addr = EXCLUDED.last_remote_addr
    """),
        rows,
    )


def list_unknown_devices(session: Session, *, limit: int | None = None, offset: int = 0) -> Sequence[UnknownDevice]:
    query = select(UnknownDevice).order_by(UnknownDevice.last_seen_at.desc(), UnknownDevice.device_key)
    return session.scalars(query.limit(limit).offset(offset)).all()


def _insert_new(session: Session, table: type, records: Sequence[dict], fields: tuple[str, ...]) -> None:
    """Rows of a topic's records, idempotently: ``fields`` as they are, ``ts_us`` and ``received_us``
    as times."""
    if records:
        session.execute(
            pg_insert(table).on_conflict_do_nothing(),
            [
                {**{name: r[name] for name in fields}, "ts": _utc(r["ts_us"]), "received_at": _utc(r["received_us"])}
                for r in records
            ],
        )


def store_radio_reports(session: Session, reports: Sequence[dict]) -> None:
    """Cell/wifi-only reports (radio.v1), idempotently."""
    _insert_new(session, RadioReport, reports, ("supervisee_id", "device_id", "radio"))


def store_sightings(session: Session, sightings: Sequence[dict]) -> None:
    """Camera sightings and office check-ins (sightings.v1), idempotently."""
    _insert_new(session, Sighting, sightings, ("camera_id", "supervisee_id", "kind", "confidence"))


def drop_expired_partitions(session: Session, *, retention_days: int) -> int:
    """Retention: drop whole day partitions older than the window; returns how many."""
    cutoff = datetime.now(UTC).date() - timedelta(days=retention_days)
    return session.execute(text("SELECT fix_drop_partitions_before(:cutoff)"), {"cutoff": cutoff}).scalar_one()


def purge_expired(session: Session, *, settings: Settings) -> dict[str, int]:
    """Retention for the rows kept beside the partitions (radio reports, sightings, last positions,
    unknown devices): those older than their setting go, in committed batches; returns how many per table."""
    now = datetime.now(UTC)
    kept = {
        "radio_report": ("ts", settings.radio_report_retention_days),
        "sighting": ("ts", settings.sighting_retention_days),
        "last_position": ("ts", settings.last_position_retention_days),
        "unknown_device": ("last_seen_at", settings.unknown_device_retention_days),
    }
    return {
        table: delete_in_batches(
            session,
            table=table,
            where=f"{column} < :cutoff",
            params={"cutoff": now - timedelta(days=days)},
            batch_rows=settings.retention_batch_rows,
        )
        for table, (column, days) in kept.items()
    }


def _utc(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)
