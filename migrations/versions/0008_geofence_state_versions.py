"""Geofence snapshots are versioned by fix time and a quiet track leaves a tombstone, so that two
geofence workers handing partitions over cannot roll each other's snapshots back.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("geofence_state", sa.Column("active", sa.Boolean(), server_default="true", nullable=False))


def downgrade() -> None:
    # Tombstones mean nothing to the older code, which loads every row as a live track.
    op.execute("DELETE FROM geofence_state WHERE NOT active")
    op.drop_column("geofence_state", "active")
