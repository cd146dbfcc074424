"""Alert policy overrides per district and risk level, suspensions of a person's alerts, and the
escalation of unacknowledged alerts to a supervisor.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:57:41.663126
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("risk_level", postgresql.ENUM(name="risk_level", create_type=False), nullable=True),
        sa.Column("thresholds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("district_id IS NOT NULL OR risk_level IS NOT NULL", name=op.f("ck_alert_policy_scoped")),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_alert_policy_district_id_district"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_policy")),
        sa.UniqueConstraint(
            "district_id", "risk_level", name="uq_alert_policy_scope", postgresql_nulls_not_distinct=True
        ),
    )
    op.create_table(
        "alert_suspension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("from_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.Integer(), nullable=True),
        sa.Column("suppressed", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.CheckConstraint("until_at > from_at", name=op.f("ck_alert_suspension_period")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["officer.id"], name=op.f("fk_alert_suspension_created_by_officer"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ended_by"], ["officer.id"], name=op.f("fk_alert_suspension_ended_by_officer"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_alert_suspension_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_suspension")),
    )
    op.create_index(op.f("ix_alert_suspension_supervisee_id"), "alert_suspension", ["supervisee_id"], unique=False)
    op.add_column("alert", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alert", sa.Column("escalated_to", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_alert_escalated_to_officer"), "alert", "officer", ["escalated_to"], ["id"], ondelete="SET NULL"
    )
    op.create_index("ix_alert_assignee_started", "alert", ["assignee_id", "started_at"], unique=False)
    op.create_index(
        "ix_alert_awaiting_escalation",
        "alert",
        ["started_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open' AND escalated_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_alert_awaiting_escalation", table_name="alert")
    op.drop_index("ix_alert_assignee_started", table_name="alert")
    op.drop_constraint(op.f("fk_alert_escalated_to_officer"), "alert", type_="foreignkey")
    op.drop_column("alert", "escalated_to")
    op.drop_column("alert", "escalated_at")
    op.drop_index(op.f("ix_alert_suspension_supervisee_id"), table_name="alert_suspension")
    op.drop_table("alert_suspension")
    op.drop_table("alert_policy")
