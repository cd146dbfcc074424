"""Electronic monitoring periods (社区矫正法 art. 29): one row per approved period or renewal, with
its grounds, approver and release. The supervisee's monitoring_start/monitoring_end columns go: they
were never approved, and are now derived from these rows (no row can be invented for them: a period
needs an approver and grounds).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUNDS = (
    "court_injunction_violated",
    "left_area_without_approval",
    "refused_to_report_warned",
    "public_security_penalty",
    "revocation_pending",
)


def upgrade() -> None:
    ground = postgresql.ENUM(*GROUNDS, name="monitoring_ground", create_type=False)
    ground.create(op.get_bind())
    op.create_table(
        "monitoring_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("renews_id", sa.Integer(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("grounds", postgresql.ARRAY(ground), nullable=False),
        sa.Column("assessment", sa.Text(), nullable=True),
        sa.Column("approved_by", sa.Integer(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.Integer(), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_monitoring_period_in_order")),
        sa.CheckConstraint(
            "ends_on <= starts_on + interval '3 months'", name=op.f("ck_monitoring_period_at_most_three_months")
        ),
        sa.CheckConstraint("cardinality(grounds) > 0", name=op.f("ck_monitoring_period_has_grounds")),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_monitoring_period_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["renews_id"],
            ["monitoring_period.id"],
            name=op.f("fk_monitoring_period_renews_id_monitoring_period"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["officer.id"], name=op.f("fk_monitoring_period_approved_by_officer"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["released_by"], ["officer.id"], name=op.f("fk_monitoring_period_released_by_officer"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_period")),
        sa.UniqueConstraint("renews_id", name=op.f("uq_monitoring_period_renews_id")),
    )
    op.create_index(op.f("ix_monitoring_period_supervisee_id"), "monitoring_period", ["supervisee_id"])
    op.create_table(
        "unapproved_monitoring_dates",
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("monitoring_start", sa.Date(), nullable=True),
        sa.Column("monitoring_end", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_unapproved_monitoring_dates_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("supervisee_id", name=op.f("pk_unapproved_monitoring_dates")),
    )
    op.execute(
        "INSERT INTO unapproved_monitoring_dates (supervisee_id, monitoring_start, monitoring_end)"
        " SELECT id, monitoring_start, monitoring_end FROM supervisee"
        " WHERE monitoring_start IS NOT NULL OR monitoring_end IS NOT NULL"
    )
    op.drop_column("supervisee", "monitoring_end")
    op.drop_column("supervisee", "monitoring_start")


def downgrade() -> None:
    op.add_column("supervisee", sa.Column("monitoring_start", sa.Date(), nullable=True))
    op.add_column("supervisee", sa.Column("monitoring_end", sa.Date(), nullable=True))
    # The current chain of periods, back into the two columns (what is lost is who approved it).
    op.execute(
        "UPDATE supervisee s SET monitoring_start = p.first_day, monitoring_end = p.last_day FROM ("
        " SELECT supervisee_id, min(starts_on) AS first_day, max(ends_on) AS last_day FROM monitoring_period"
        " WHERE released_at IS NULL GROUP BY supervisee_id) p WHERE p.supervisee_id = s.id"
    )
    op.execute(
        "UPDATE supervisee s SET monitoring_start = u.monitoring_start, monitoring_end = u.monitoring_end"
        " FROM unapproved_monitoring_dates u WHERE u.supervisee_id = s.id AND s.monitoring_start IS NULL"
    )
    op.drop_table("unapproved_monitoring_dates")
    op.drop_index(op.f("ix_monitoring_period_supervisee_id"), table_name="monitoring_period")
    op.drop_table("monitoring_period")
    postgresql.ENUM(name="monitoring_ground").drop(op.get_bind())
