"""The platform's own outages (a supervisee's silence over them is not theirs), when the watchdog last
looked, and platform alerts: an alert about a whole gateway or district names that district instead
of a supervisee.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_outage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=60), server_default="platform", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name=op.f("ck_platform_outage_period")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_outage")),
        sa.UniqueConstraint("cause", "started_at", name="uq_platform_outage_cause_started_at"),
    )
    op.create_index(op.f("ix_platform_outage_ended_at"), "platform_outage", ["ended_at"], unique=False)
    op.create_index(
        "uq_platform_outage_open_cause",
        "platform_outage",
        ["cause"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "watchdog_round",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_watchdog_round")),
    )
    op.alter_column("alert", "supervisee_id", existing_type=sa.Integer(), nullable=True)
    op.add_column("alert", sa.Column("district_id", sa.Integer(), nullable=True))
    op.add_column("alert", sa.Column("gateway_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_alert_district_id_district"), "alert", "district", ["district_id"], ["id"], ondelete="CASCADE"
    )
    op.create_foreign_key(
        op.f("fk_alert_gateway_id_gateway"), "alert", "gateway", ["gateway_id"], ["id"], ondelete="SET NULL"
    )
    op.create_index(op.f("ix_alert_district_id"), "alert", ["district_id"], unique=False)
    op.create_check_constraint(
        op.f("ck_alert_about_someone"), "alert", "supervisee_id IS NOT NULL OR district_id IS NOT NULL"
    )


def downgrade() -> None:
    # Platform alerts name no supervisee: they cannot survive the column becoming required again.
    op.execute("DELETE FROM alert WHERE supervisee_id IS NULL")
    op.drop_constraint(op.f("ck_alert_about_someone"), "alert", type_="check")
    op.drop_index(op.f("ix_alert_district_id"), table_name="alert")
    op.drop_constraint(op.f("fk_alert_gateway_id_gateway"), "alert", type_="foreignkey")
    op.drop_constraint(op.f("fk_alert_district_id_district"), "alert", type_="foreignkey")
    op.drop_column("alert", "gateway_id")
    op.drop_column("alert", "district_id")
    op.alter_column("alert", "supervisee_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("watchdog_round")
    op.drop_index("uq_platform_outage_open_cause", table_name="platform_outage")
    op.drop_index(op.f("ix_platform_outage_ended_at"), table_name="platform_outage")
    op.drop_table("platform_outage")
