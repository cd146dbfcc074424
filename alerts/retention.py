"""Retention of alerts (README, "Retention"). An episode is a record, kept ``alert_retention_days``
after it is over; the positions in it are kept only as long as the fixes (``fix_retention_days``):
then its evidence and its events' details lose their coordinates and keep the rest (times, zone,
accuracy, distance, reason). The audit chain is the record of who did what and is not touched here."""

from datetime import timedelta

from sqlalchemy.orm import Session

from core.config import Settings
from core.db import delete_in_batches, update_in_batches
from core.timezones import utcnow

# An alert's evidence is {"first": {...}, "last": {...}, "count": n}; an event's detail {"evidence": {...}}.
_COORDINATES = "array['lat', 'lon']"
_EVIDENCE_WITH_COORDINATES = (
    f"((evidence->'first') ?| {_COORDINATES} OR (evidence->'last') ?| {_COORDINATES}) AND last_evidence_at < :cutoff"
)
_STRIP_EVIDENCE = "evidence = evidence #- '{first,lat}' #- '{first,lon}' #- '{last,lat}' #- '{last,lon}'"
_DETAIL_WITH_COORDINATES = f"(detail->'evidence') ?| {_COORDINATES} AND at < :cutoff"
_STRIP_DETAIL = "detail = detail #- '{evidence,lat}' #- '{evidence,lon}'"
_OVER_LONG_AGO = "coalesce(resolved_at, ended_at) < :cutoff AND last_evidence_at < :cutoff"


def purge_expired(*, session: Session, settings: Settings) -> dict[str, int]:
    """Strip the coordinates older than the fix retention, delete the alerts (with their events) over
    for longer than the alert retention; committed in batches. Returns the rows changed per kind."""
    now, batch_rows = utcnow(), settings.retention_batch_rows
    positions_before = {"cutoff": now - timedelta(days=settings.fix_retention_days)}
    return {
        "alert evidence stripped": update_in_batches(
            session,
            table="alert",
            assignments=_STRIP_EVIDENCE,
            where=_EVIDENCE_WITH_COORDINATES,
            params=positions_before,
            batch_rows=batch_rows,
        ),
        "alert_event details stripped": update_in_batches(
            session,
            table="alert_event",
            assignments=_STRIP_DETAIL,
            where=_DETAIL_WITH_COORDINATES,
            params=positions_before,
            batch_rows=batch_rows,
        ),
        "alerts deleted": delete_in_batches(
            session,
            table="alert",
            where=_OVER_LONG_AGO,
            params={"cutoff": now - timedelta(days=settings.alert_retention_days)},
            batch_rows=batch_rows,
        ),
    }
