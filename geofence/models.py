"""Zones: the electronic wall (inclusion), places barred (exclusion) and neutral places."""

import enum
from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB
from sqlalchemy.orm import Mapped, mapped_column

import caseload.models
from core.db import Base, pg_enum
from core.wire import AlertLevel

# The tables this one's foreign keys point at must be on the metadata in every process.
FOREIGN_KEY_TARGETS = (caseload.models,)


class ZoneKind(enum.StrEnum):
    inclusion = "inclusion"  # 电子墙: must stay inside
    exclusion = "exclusion"  # must stay out
    poi = "poi"  # neutral place of interest, no rule


class Zone(Base):
    __tablename__ = "zone"
    __table_args__ = (
        CheckConstraint("(supervisee_id IS NULL) <> (district_id IS NULL)", name="one_owner"),
        CheckConstraint("buffer_m >= 0", name="buffer_non_negative"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name="validity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[ZoneKind] = mapped_column(pg_enum(ZoneKind, "zone_kind"))
    # Owned by one supervisee, or by a district (then it applies to everyone in it).
    supervisee_id: Mapped[int | None] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"), index=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True))
    buffer_m: Mapped[float] = mapped_column(Float, default=0, server_default="0")
    # Weekly schedule in the display time zone with dated exceptions (geofence.schedule); null means
    # always in force.
    schedule: Mapped[dict | None] = mapped_column(JSONB)
    # Of the inclusion zones in force at a moment, only the highest priority ones bind: a curfew
    # (home, 22:00-06:00) above the everyday wall.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # 请假外出: an approved, time-bounded inclusion zone that is allowed beside whatever else binds,
    # until the return (销假) ends it.
    travel_leave: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The level a breach of this zone raises at first; the rules may escalate it.
    severity: Mapped[AlertLevel] = mapped_column(
        pg_enum(AlertLevel, "alert_level"), default=AlertLevel.yellow, server_default="yellow"
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), index=True
    )


class LeaveDecision(enum.StrEnum):
    requested = "requested"
    approved = "approved"
    refused = "refused"


class TravelLeave(Base):
    """请假外出: a request to travel (destination, window, reason), and the supervisor's decision with its
    record. Only an approval makes a leave zone (``zone_id``); its return (销假) is recorded on that zone."""

    __tablename__ = "travel_leave"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="in_order"),
        CheckConstraint("(decision = 'approved') = (zone_id IS NOT NULL)", name="zone_only_when_approved"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), index=True)
    destination: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    destination_name: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
    # Null: asked by the supervisee from their phone page (#16), not by an officer.
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decision: Mapped[LeaveDecision] = mapped_column(
        pg_enum(LeaveDecision, "leave_decision"), default=LeaveDecision.requested, server_default="requested"
    )
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="RESTRICT"), unique=True)


class GeofenceState(Base):
    """The engine's per-person, per-zone state machine, snapshotted after every batch so that a
    restarted worker continues where it was instead of re-raising or missing episodes.

    ``last_fix_us`` (the fix time the track has consumed up to; it never goes back) versions the
    row: a write with an older one is refused, so a worker that lost the person's partition to
    another and finishes a late batch cannot roll the new owner's snapshot back. A track that went
    quiet is not deleted but left ``active`` false (a tombstone with its version) for the same
    reason; old tombstones are purged."""

    __tablename__ = "geofence_state"

    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"), primary_key=True)
    last_fix_us: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[dict] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# What is learned per person (geofence.noise): the snapshot's columns; ``last_us`` versions it.
NOISE_FIELDS = ("last_us", "last_lat", "last_lon", "last_var", "median", "pairs")


class PhoneNoise(Base):
    """What the engine learned of a person's phone's real scatter (``geofence.noise``), snapshotted with
    the tracks; versioned by ``last_us`` as they are by ``last_fix_us``."""

    __tablename__ = "geofence_noise"

    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), primary_key=True)
    last_us: Mapped[int] = mapped_column(BigInteger)
    last_lat: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    last_lon: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    last_var: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    median: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    pairs: Mapped[int] = mapped_column(BigInteger)
