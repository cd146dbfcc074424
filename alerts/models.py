"""Alert episodes and every transition they go through."""

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

import caseload.models
import geofence.models
from caseload.models import RiskLevel
from core.db import Base, pg_enum
from core.wire import AlertLevel

# The tables this one's foreign keys point at must be on the metadata in every process.
FOREIGN_KEY_TARGETS = (caseload.models, geofence.models)


class AlertStatus(enum.StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class Disposition(enum.StrEnum):
    confirmed_violation = "confirmed_violation"
    false_alarm = "false_alarm"
    approved_absence = "approved_absence"
    other = "other"


# Written out, not bound: ON CONFLICT must name the partial index's predicate as text. Once psycopg
# prepares a statement (its fifth run on a connection) PostgreSQL soon plans it generically, and a
# generic plan cannot match a parameter to the predicate (the 11th new episode per connection failed).
LIVE_EPISODE = "ended_at IS NULL AND status <> 'resolved'"


class Alert(Base):
    """One episode: opened by the first evidence, updated while it lasts, ended when the person is
    back; its status is the officer's handling of it."""

    __tablename__ = "alert"
    __table_args__ = (
        # At most one live episode per dedup key, so replayed events update instead of duplicating.
        Index(
            "uq_alert_live_dedup_key",
            "dedup_key",
            unique=True,
            postgresql_where=text(LIVE_EPISODE),
        ),
        # Every episode of a key, live or finished: replays are recognised by it (alerts.service).
        Index("ix_alert_dedup_key", "dedup_key"),
        Index("ix_alert_status_level", "status", "level"),
        # The watchdog's escalation round reads only these.
        Index(
            "ix_alert_awaiting_escalation",
            "started_at",
            postgresql_where=text("status = 'open' AND escalated_at IS NULL"),
        ),
        # The alert queue's default page: unresolved, red first, newest first (alerts.queue).
        Index("ix_alert_unresolved_queue", "level", "started_at", "id", postgresql_where=text("status <> 'resolved'")),
        # The response-times report, per officer and period.
        Index("ix_alert_assignee_started", "assignee_id", "started_at"),
        CheckConstraint("supervisee_id IS NOT NULL OR district_id IS NOT NULL", name="about_someone"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Empty for a platform alert (a whole gateway or district gone silent): it names the district,
    # whose command staff see it, instead.
    supervisee_id: Mapped[int | None] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"), index=True)
    gateway_id: Mapped[int | None] = mapped_column(ForeignKey("gateway.id", ondelete="SET NULL"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="SET NULL"))
    rule: Mapped[str] = mapped_column(String(40))
    level: Mapped[AlertLevel] = mapped_column(pg_enum(AlertLevel, "alert_level", create_type=False))
    status: Mapped[AlertStatus] = mapped_column(
        pg_enum(AlertStatus, "alert_status"), default=AlertStatus.open, server_default="open"
    )
    dedup_key: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_evidence_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evidence: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="SET NULL"))
    ack_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="SET NULL"))
    disposition: Mapped[Disposition | None] = mapped_column(pg_enum(Disposition, "alert_disposition"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # Passed up to a supervisor: by the watchdog when unacknowledged past the SLA, or by hand.
    # escalated_to stays empty when no supervisor or command officer could be found.
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_to: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AlertEvent(Base):
    __tablename__ = "alert_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # opened, level_raised, ended, acknowledged, escalated, resolved
    kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(120))  # "system" or "officer:<id>"
    detail: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class AlertPolicy(Base):
    """Threshold overrides for a district, a risk level, or a risk level within a district; holds only
    the fields it overrides (see alerts.policy for how they combine)."""

    __tablename__ = "alert_policy"
    __table_args__ = (
        CheckConstraint("district_id IS NOT NULL OR risk_level IS NOT NULL", name="scoped"),
        # NULLS NOT DISTINCT: there is one risk-only override per risk level, too.
        UniqueConstraint("district_id", "risk_level", name="uq_alert_policy_scope", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"))
    risk_level: Mapped[RiskLevel | None] = mapped_column(pg_enum(RiskLevel, "risk_level", create_type=False))
    thresholds: Mapped[dict] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AlertSuspension(Base):
    """A bounded pause of one person's new alert episodes, with the officer's reason. Evidence that
    would have opened an episode is summed up in ``suppressed`` (dedup key → rule, highest level,
    count, first and last evidence time); the first of each key is also written to the audit chain."""

    __tablename__ = "alert_suspension"
    __table_args__ = (CheckConstraint("until_at > from_at", name="period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), index=True)
    from_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set when lifted before until_at.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="SET NULL"))
    suppressed: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class PlatformOutage(Base):
    """A stretch of time when the platform itself could not take or store positions (ingest or
    persist down, persist behind, the broker unreachable, or declared maintenance): a supervisee's
    silence over it is not theirs, and acknowledgement clocks stop over it. At most one window per
    cause is open (``ended_at`` empty); the watchdog opens, extends and closes those it observes."""

    __tablename__ = "platform_outage"
    __table_args__ = (
        UniqueConstraint("cause", "started_at", name="uq_platform_outage_cause_started_at"),
        Index("uq_platform_outage_open_cause", "cause", unique=True, postgresql_where=text("ended_at IS NULL")),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # ingest_down, persist_down, persist_behind, broker_down, or one an operator declares (maintenance).
    cause: Mapped[str] = mapped_column(String(40))
    # Whom it concerns: the whole platform, for now.
    scope: Mapped[str] = mapped_column(String(60), default="platform", server_default="platform")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    detail: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class WatchdogRound(Base):
    """When the watchdog last looked at the platform: the start of the stretch its next look covers,
    even if it was down itself meanwhile."""

    __tablename__ = "watchdog_round"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
