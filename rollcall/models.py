"""Roll calls (点名): who was called, how they must answer, by when, and each person's answer with its
checks (the answer's position against the tracker's, the photo, the identity verification)."""

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB
from sqlalchemy.orm import Mapped, mapped_column

import caseload.models
from caseload.models import RiskLevel
from core.db import Base, pg_enum

# The tables this one's foreign keys point at must be on the metadata in every process.
FOREIGN_KEY_TARGETS = (caseload.models,)


class RollCallKind(enum.StrEnum):
    ad_hoc = "ad_hoc"  # launched by staff
    scheduled = "scheduled"  # issued by a district's rule (常态化点名)


class RollCallMode(enum.StrEnum):
    phone = "phone"  # answer on the phone page: position and photo
    camera = "camera"  # be seen by a registered camera (its sighting answers)
    office = "office"  # 报到: check in at the judicial office on a date


class TargetStatus(enum.StrEnum):
    pending = "pending"  # called, not answered yet
    answered = "answered"  # answered by the deadline
    late = "late"  # answered after the deadline, before the roll call closed
    missed = "missed"  # not answered when the roll call closed
    excused = "excused"  # released by staff (a reason recorded), or the person's supervision ended


class Verification(enum.StrEnum):
    """Whether the person who answered is the supervisee (rollcall.verification)."""

    not_needed = "not_needed"  # no photo to check (camera and office answers identify the person)
    queued = "queued"  # waiting for an officer to compare the photo with the enrolment photo
    confirmed = "confirmed"  # an officer, or the face-match service, says it is the person
    rejected = "rejected"  # it is not the person: 人机分离 / identity check failed


class AnswerVia(enum.StrEnum):
    phone = "phone"
    camera = "camera"
    office = "office"


class RollCall(Base):
    """One roll call: a call to some people to prove where they are, in one mode, with a deadline."""

    __tablename__ = "roll_call"
    __table_args__ = (
        CheckConstraint("deadline_min > 0 AND close_min >= deadline_min", name="deadlines"),
        CheckConstraint("mode <> 'office' OR office_date IS NOT NULL", name="office_has_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[RollCallKind] = mapped_column(pg_enum(RollCallKind, "roll_call_kind"))
    mode: Mapped[RollCallMode] = mapped_column(pg_enum(RollCallMode, "roll_call_mode"))
    # The district it was issued for (a scheduled rule's, or the issuer's chosen one); null: several.
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id", ondelete="RESTRICT"), index=True)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))  # null: a rule
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("roll_call_rule.id", ondelete="SET NULL"), index=True)
    # How the targets were chosen, as the issuer asked (person, caseload, district or filter).
    audience: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    message: Mapped[str | None] = mapped_column(Text)  # shown on the phone page
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    # An answer by issued_at + deadline_min is on time; until issued_at + close_min it is late; after
    # that the person missed it. Office roll calls count from the start of office_date instead.
    deadline_min: Mapped[int] = mapped_column(Integer)
    close_min: Mapped[int] = mapped_column(Integer)
    office_date: Mapped[date | None] = mapped_column(Date)
    target_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RollCallTarget(Base):
    """One person called by one roll call, and their answer."""

    __tablename__ = "roll_call_target"
    __table_args__ = (
        UniqueConstraint("roll_call_id", "supervisee_id", name="one_per_person"),
        # The deadline timer's and the phone page's question: who is still due.
        Index("ix_roll_call_target_pending_closes_at", "closes_at", postgresql_where="status = 'pending'"),
        Index("ix_roll_call_target_supervisee_pending", "supervisee_id", postgresql_where="status = 'pending'"),
        # Room in each page, so delivering a roll call (stamping every target) is a HOT update (0019).
        {"postgresql_with": {"fillfactor": 40}},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    roll_call_id: Mapped[int] = mapped_column(ForeignKey("roll_call.id", ondelete="CASCADE"))
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), index=True)
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[TargetStatus] = mapped_column(
        pg_enum(TargetStatus, "roll_call_target_status"), default=TargetStatus.pending, server_default="pending"
    )
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # published to the phone page
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # handed to the notifier (SMS)
    # The answer.
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_via: Mapped[AnswerVia | None] = mapped_column(pg_enum(AnswerVia, "roll_call_answer_via"))
    answer_lat: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    answer_lon: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    answer_accuracy_m: Mapped[float | None] = mapped_column(Float)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("camera.id", ondelete="SET NULL"))
    # The tracker's position at the answer's moment (its nearest fix in time from another device) and
    # how far the answer was from it: over the threshold is 人机分离 (phone and person apart).
    tracker_lat: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    tracker_lon: Mapped[float | None] = mapped_column(DOUBLE_PRECISION)
    tracker_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tracker_distance_m: Mapped[float | None] = mapped_column(Float)
    separated: Mapped[bool | None] = mapped_column(Boolean)
    verification: Mapped[Verification] = mapped_column(
        pg_enum(Verification, "roll_call_verification"), default=Verification.not_needed, server_default="not_needed"
    )
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))  # null: a service
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verification_note: Mapped[str | None] = mapped_column(Text)
    excused_reason: Mapped[str | None] = mapped_column(Text)


class RollCallPhoto(Base):
    """The photo a person took to answer, kept until ``expires_at`` (the retention job deletes it)."""

    __tablename__ = "roll_call_photo"

    target_id: Mapped[int] = mapped_column(ForeignKey("roll_call_target.id", ondelete="CASCADE"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Period(enum.StrEnum):
    day = "day"
    week = "week"


class RollCallRule(Base):
    """常态化点名: how often the people of a district and risk level are called, at random times within a
    daily window (Asia/Shanghai). People on approved leave at the time are not called."""

    __tablename__ = "roll_call_rule"
    __table_args__ = (
        CheckConstraint("times_per_period BETWEEN 1 AND 24", name="times"),
        CheckConstraint("window_end > window_start", name="window"),
        CheckConstraint("deadline_min > 0 AND close_min >= deadline_min", name="deadlines"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"), index=True)
    risk_level: Mapped[RiskLevel] = mapped_column(pg_enum(RiskLevel, "risk_level"))
    mode: Mapped[RollCallMode] = mapped_column(pg_enum(RollCallMode, "roll_call_mode"))
    period: Mapped[Period] = mapped_column(pg_enum(Period, "roll_call_period"))
    times_per_period: Mapped[int] = mapped_column(SmallInteger)
    window_start: Mapped[time] = mapped_column(Time)  # local time of day
    window_end: Mapped[time] = mapped_column(Time)
    deadline_min: Mapped[int] = mapped_column(Integer)
    close_min: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # The planned times not issued yet (ISO timestamps, UTC); drawn for a period when it begins.
    planned: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    planned_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
