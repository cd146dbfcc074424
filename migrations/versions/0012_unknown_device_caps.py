"""Indexes for the caps on new unknown devices (per source address per hour, in all per day), which
ingest counts in the table on every flush.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_unknown_device_first_seen_at", "unknown_device", ["first_seen_at"])
    op.create_index(
        "ix_unknown_device_last_remote_addr_first_seen_at", "unknown_device", ["last_remote_addr", "first_seen_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_unknown_device_last_remote_addr_first_seen_at", table_name="unknown_device")
    op.drop_index("ix_unknown_device_first_seen_at", table_name="unknown_device")
