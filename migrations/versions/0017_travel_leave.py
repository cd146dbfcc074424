"""Travel leave (请假外出) requests and their decisions: who asked, for where and when, and who approved
or refused them, when, with what note. An approval makes the leave zone; the zone also records who
recorded the return (销假).

Revision ID: 0017_travel_leave
Revises: 0016_alert_queue_index
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0017_travel_leave"
down_revision: str | None = "0016_alert_queue_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    decision = postgresql.ENUM("requested", "approved", "refused", name="leave_decision", create_type=False)
    decision.create(op.get_bind())
    op.add_column("zone", sa.Column("returned_by", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_zone_returned_by_officer"), "zone", "officer", ["returned_by"], ["id"], ondelete="RESTRICT"
    )
    op.create_table(
        "travel_leave",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column(
            "destination",
            Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False, from_text="ST_GeomFromEWKT"),
            nullable=False,
        ),
        sa.Column("destination_name", sa.String(length=120), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("decision", decision, server_default="requested", nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_travel_leave_in_order")),
        sa.CheckConstraint(
            "(decision = 'approved') = (zone_id IS NOT NULL)", name=op.f("ck_travel_leave_zone_only_when_approved")
        ),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_travel_leave_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["officer.id"], name=op.f("fk_travel_leave_requested_by_officer"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["officer.id"], name=op.f("fk_travel_leave_decided_by_officer"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_travel_leave_zone_id_zone"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_travel_leave")),
        sa.UniqueConstraint("zone_id", name=op.f("uq_travel_leave_zone_id")),
    )
    op.create_index(op.f("ix_travel_leave_supervisee_id"), "travel_leave", ["supervisee_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_travel_leave_supervisee_id"), table_name="travel_leave")
    op.drop_table("travel_leave")
    op.drop_constraint(op.f("fk_zone_returned_by_officer"), "zone", type_="foreignkey")
    op.drop_column("zone", "returned_by")
    postgresql.ENUM(name="leave_decision").drop(op.get_bind())
