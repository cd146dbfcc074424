"""Episodes are looked up by dedup key, live or not: an index over every row, not only the live ones.
Without it each zone event scanned the whole alert table to ask whether a finished episode already
covers its time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alert_dedup_key", "alert", ["dedup_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alert_dedup_key", table_name="alert")
