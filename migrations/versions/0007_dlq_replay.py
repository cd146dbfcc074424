"""Replays of dead-lettered records, so an admin's replay republishes each record once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dlq_replay",
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("value_sha256", sa.String(length=64), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint(
            "topic", "source_partition", "source_offset", "value_sha256", name=op.f("pk_dlq_replay")
        ),
    )


def downgrade() -> None:
    op.drop_table("dlq_replay")
