"""Positions: every fix (partitioned by day) and the latest one per supervisee."""

import enum
from datetime import datetime

from sqlalchemy import (
    DOUBLE_PRECISION,
    DateTime,
    Float,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class FixSource(enum.StrEnum):
    gps = "gps"
    network = "network"
    lbs = "lbs"
    cctv = "cctv"
    checkin = "checkin"


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
