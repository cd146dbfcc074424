"""Positions: every fix (partitioned by day) and the latest one per supervisee."""

import enum
from datetime import datetime

from sqlalchemy import (
    DOUBLE_PRECISION,
    DateTime,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class Fix(Base):
    """One reported position. Partitioned by day on ``ts``; the primary key makes replays idempotent.

    Foreign keys are deliberately absent: this is the hot table, and rows are only written by
    the persist worker for supervisees and devices it has just resolved.
    """

    __tablename__ = "fix"
    __table_args__ = (
        PrimaryKeyConstraint("supervisee_id", "ts", "device_id"),
        {"postgresql_partition_by": "RANGE (ts)"},
    )

    supervisee_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    device_id: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    lon: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    altitude_m: Mapped[float | None] = mapped_column(Float)
    battery_pct: Mapped[int | None] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LastPosition(Base):
    __tablename__ = "last_position"

    # No foreign key, as on `fix`: the persist worker must never stall on a row it cannot place.
    supervisee_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    device_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lat: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    lon: Mapped[float] = mapped_column(DOUBLE_PRECISION)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    battery_pct: Mapped[int | None] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RadioReport(Base):
    """A report with cell towers or wifi access points but no position, kept for network positioning."""

    __tablename__ = "radio_report"
    __table_args__ = (PrimaryKeyConstraint("supervisee_id", "ts", "device_id"),)

    supervisee_id: Mapped[int] = mapped_column(Integer)
    # Indexed for the retention job, which deletes by time.
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    device_id: Mapped[int] = mapped_column(Integer)
    radio: Mapped[dict] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SightingKind(enum.StrEnum):
    sighting = "sighting"  # seen by a camera
    report = "report"  # 报到: reporting in at the office
    announcement = "announcement"  # 入矫宣告: the supervision-start announcement
    education = "education"  # 集中教育: group education
    community_service = "community_service"  # 社区服务


class Sighting(Base):
    __tablename__ = "sighting"
    __table_args__ = (PrimaryKeyConstraint("camera_id", "supervisee_id", "ts"),)

    camera_id: Mapped[int] = mapped_column(Integer)
    supervisee_id: Mapped[int] = mapped_column(Integer, index=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    confidence: Mapped[float] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UnknownDevice(Base):
    """Devices that tried to report but are not registered: a list for an admin to act on. A generated
    key (a password) is kept only as its hint (core.security.device_key_hint)."""

    __tablename__ = "unknown_device"
    __table_args__ = (
        PrimaryKeyConstraint("protocol", "device_key"),
        # Ingest counts the new ones per address per hour and per day (its caps).
        Index("ix_unknown_device_first_seen_at", "first_seen_at"),
        Index("ix_unknown_device_last_remote_addr_first_seen_at", "last_remote_addr", "first_seen_at"),
    )

    protocol: Mapped[str] = mapped_column(String(16))
    device_key: Mapped[str] = mapped_column(String(128))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_remote_addr: Mapped[str | None] = mapped_column(String(64))
