"""Zone priorities and travel leave (请假外出 and its return, 销假); the geofence engine's state
snapshot, so a restarted worker continues where it was.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:48:53.487405
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "geofence_state",
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("last_fix_us", sa.BigInteger(), nullable=False),
        sa.Column("state", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_geofence_state_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_geofence_state_zone_id_zone"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("supervisee_id", "zone_id", name=op.f("pk_geofence_state")),
    )
    op.add_column("zone", sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
    op.add_column("zone", sa.Column("travel_leave", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("zone", sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("zone", "returned_at")
    op.drop_column("zone", "travel_leave")
    op.drop_column("zone", "priority")
    op.drop_table("geofence_state")
