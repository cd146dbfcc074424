"""Roll calls (点名): the calls, their targets and answers, answer photos and the districts' scheduled
rules; the supervisee's phone page: its sign-in links, its own device kind (web), officers' messages,
and the enrolment photo roll-call photos are compared with.

Revision ID: 0018_rollcall
Revises: 0017_travel_leave
Create Date: 2026-12-03 16:40:34.822589
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018_rollcall"
down_revision: str | None = "0017_travel_leave"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


RISK_LEVEL = postgresql.ENUM("low", "medium", "high", name="risk_level", create_type=False)
MODE = postgresql.ENUM("phone", "camera", "office", name="roll_call_mode", create_type=False)
PERIOD = postgresql.ENUM("day", "week", name="roll_call_period", create_type=False)
KIND = postgresql.ENUM("ad_hoc", "scheduled", name="roll_call_kind", create_type=False)
STATUS = postgresql.ENUM(
    "pending", "answered", "late", "missed", "excused", name="roll_call_target_status", create_type=False
)
VIA = postgresql.ENUM("phone", "camera", "office", name="roll_call_answer_via", create_type=False)
VERIFICATION = postgresql.ENUM(
    "not_needed", "queued", "confirmed", "rejected", name="roll_call_verification", create_type=False
)
NEW_TYPES = (MODE, PERIOD, KIND, STATUS, VIA, VERIFICATION)


def upgrade() -> None:
    # ADD VALUE cannot run inside a transaction block on PostgreSQL < 12; 15 allows it (not used before commit).
    op.execute("ALTER TYPE device_kind ADD VALUE IF NOT EXISTS 'web'")
    for kind in NEW_TYPES:
        kind.create(op.get_bind())
    op.create_table(
        "roll_call_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("risk_level", RISK_LEVEL, nullable=False),
        sa.Column("mode", MODE, nullable=False),
        sa.Column("period", PERIOD, nullable=False),
        sa.Column("times_per_period", sa.SmallInteger(), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=False),
        sa.Column("window_end", sa.Time(), nullable=False),
        sa.Column("deadline_min", sa.Integer(), nullable=False),
        sa.Column("close_min", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("planned", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("planned_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("deadline_min > 0 AND close_min >= deadline_min", name=op.f("ck_roll_call_rule_deadlines")),
        sa.CheckConstraint("times_per_period BETWEEN 1 AND 24", name=op.f("ck_roll_call_rule_times")),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_roll_call_rule_window")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["officer.id"], name=op.f("fk_roll_call_rule_created_by_officer"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_roll_call_rule_district_id_district"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roll_call_rule")),
    )
    op.create_index(op.f("ix_roll_call_rule_district_id"), "roll_call_rule", ["district_id"], unique=False)
    op.create_table(
        "enrolment_photo",
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_enrolment_photo_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["officer.id"], name=op.f("fk_enrolment_photo_updated_by_officer"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("supervisee_id", name=op.f("pk_enrolment_photo")),
    )
    op.create_table(
        "officer_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_officer_message_officer_id_officer"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_officer_message_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officer_message")),
    )
    op.create_index(op.f("ix_officer_message_supervisee_id"), "officer_message", ["supervisee_id"], unique=False)
    op.create_table(
        "roll_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("mode", MODE, nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("audience", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deadline_min", sa.Integer(), nullable=False),
        sa.Column("close_min", sa.Integer(), nullable=False),
        sa.Column("office_date", sa.Date(), nullable=True),
        sa.Column("target_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode <> 'office' OR office_date IS NOT NULL", name=op.f("ck_roll_call_office_has_date")),
        sa.CheckConstraint("deadline_min > 0 AND close_min >= deadline_min", name=op.f("ck_roll_call_deadlines")),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_roll_call_district_id_district"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["officer.id"], name=op.f("fk_roll_call_issued_by_officer"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["roll_call_rule.id"], name=op.f("fk_roll_call_rule_id_roll_call_rule"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roll_call")),
    )
    op.create_index(op.f("ix_roll_call_district_id"), "roll_call", ["district_id"], unique=False)
    op.create_index(op.f("ix_roll_call_issued_at"), "roll_call", ["issued_at"], unique=False)
    op.create_index(op.f("ix_roll_call_rule_id"), "roll_call", ["rule_id"], unique=False)
    op.create_table(
        "phone_page_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["officer.id"], name=op.f("fk_phone_page_link_created_by_officer"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_phone_page_link_device_id_device"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["officer.id"], name=op.f("fk_phone_page_link_revoked_by_officer"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_phone_page_link_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_page_link")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_phone_page_link_code_hash")),
    )
    op.create_index(op.f("ix_phone_page_link_supervisee_id"), "phone_page_link", ["supervisee_id"], unique=False)
    op.create_table(
        "roll_call_target",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("roll_call_id", sa.Integer(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", STATUS, server_default="pending", nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_via", VIA, nullable=True),
        sa.Column("answer_lat", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("answer_lon", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("answer_accuracy_m", sa.Float(), nullable=True),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("tracker_lat", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("tracker_lon", sa.DOUBLE_PRECISION(), nullable=True),
        sa.Column("tracker_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tracker_distance_m", sa.Float(), nullable=True),
        sa.Column("separated", sa.Boolean(), nullable=True),
        sa.Column("verification", VERIFICATION, server_default="not_needed", nullable=False),
        sa.Column("verified_by", sa.Integer(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verification_note", sa.Text(), nullable=True),
        sa.Column("excused_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["camera.id"], name=op.f("fk_roll_call_target_camera_id_camera"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["roll_call_id"],
            ["roll_call.id"],
            name=op.f("fk_roll_call_target_roll_call_id_roll_call"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_roll_call_target_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["verified_by"], ["officer.id"], name=op.f("fk_roll_call_target_verified_by_officer"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roll_call_target")),
        sa.UniqueConstraint("roll_call_id", "supervisee_id", name="one_per_person"),
    )
    op.create_index(
        "ix_roll_call_target_pending_closes_at",
        "roll_call_target",
        ["closes_at"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.create_index(op.f("ix_roll_call_target_supervisee_id"), "roll_call_target", ["supervisee_id"], unique=False)
    op.create_index(
        "ix_roll_call_target_supervisee_pending",
        "roll_call_target",
        ["supervisee_id"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.create_table(
        "roll_call_photo",
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["roll_call_target.id"],
            name=op.f("fk_roll_call_photo_target_id_roll_call_target"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("target_id", name=op.f("pk_roll_call_photo")),
    )
    op.create_index(op.f("ix_roll_call_photo_expires_at"), "roll_call_photo", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_roll_call_photo_expires_at"), table_name="roll_call_photo")
    op.drop_table("roll_call_photo")
    op.drop_index(
        "ix_roll_call_target_supervisee_pending", table_name="roll_call_target", postgresql_where="status = 'pending'"
    )
    op.drop_index(op.f("ix_roll_call_target_supervisee_id"), table_name="roll_call_target")
    op.drop_index(
        "ix_roll_call_target_pending_closes_at", table_name="roll_call_target", postgresql_where="status = 'pending'"
    )
    op.drop_table("roll_call_target")
    op.drop_index(op.f("ix_phone_page_link_supervisee_id"), table_name="phone_page_link")
    op.drop_table("phone_page_link")
    op.drop_index(op.f("ix_roll_call_rule_id"), table_name="roll_call")
    op.drop_index(op.f("ix_roll_call_issued_at"), table_name="roll_call")
    op.drop_index(op.f("ix_roll_call_district_id"), table_name="roll_call")
    op.drop_table("roll_call")
    op.drop_index(op.f("ix_officer_message_supervisee_id"), table_name="officer_message")
    op.drop_table("officer_message")
    op.drop_table("enrolment_photo")
    op.drop_index(op.f("ix_roll_call_rule_district_id"), table_name="roll_call_rule")
    op.drop_table("roll_call_rule")
    for kind in reversed(NEW_TYPES):
        kind.drop(op.get_bind())
    # device_kind keeps 'web': PostgreSQL cannot drop an enum value.
