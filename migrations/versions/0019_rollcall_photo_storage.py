"""Answer photos are stored uncompressed (STORAGE EXTERNAL): JPEG, PNG and WebP are compressed already,
so PostgreSQL's attempt to compress each one only cost time (measured: a batch of 500 photos of 17 KB
copied 3 to 4 times faster without it).

Revision ID: 0019_rollcall_photo_storage
Revises: 0018_rollcall
Create Date: 2026-12-03 17:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_rollcall_photo_storage"
down_revision: str | None = "0018_rollcall"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE roll_call_photo ALTER COLUMN content SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE roll_call_photo ALTER COLUMN content SET STORAGE EXTENDED")
