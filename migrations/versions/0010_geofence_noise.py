"""What the engine learned of each phone's real scatter, snapshotted with the tracks: a restarted
geofence worker learned every phone again from scratch, and judged some runs differently meanwhile.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "geofence_noise",
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("last_us", sa.BigInteger(), nullable=False),
        sa.Column("last_lat", postgresql.DOUBLE_PRECISION(), nullable=False),
        sa.Column("last_lon", postgresql.DOUBLE_PRECISION(), nullable=False),
        sa.Column("last_var", postgresql.DOUBLE_PRECISION(), nullable=False),
        sa.Column("median", postgresql.DOUBLE_PRECISION(), nullable=False),
        sa.Column("pairs", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["supervisee_id"],
            ["supervisee.id"],
            name=op.f("fk_geofence_noise_supervisee_id_supervisee"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("supervisee_id", name=op.f("pk_geofence_noise")),
    )


def downgrade() -> None:
    op.drop_table("geofence_noise")
