"""Roll-call targets leave room in each page: delivering a roll call stamps every target (delivered_at,
notified_at) right after they were written, and with free space on the page that update is a HOT
update (no index entry changes). Measured for 100,000 targets on a busy 2-core machine: 4.1 s at the
default fill factor, 1.0 s at 50 (77 % HOT); 40 leaves room for all of them.

Revision ID: 0019_roll_call_target_fillfactor
Revises: 0018_rollcall
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_roll_call_target_fillfactor"
down_revision: str | None = "0018_rollcall"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE roll_call_target SET (fillfactor = 40)")


def downgrade() -> None:
    op.execute("ALTER TABLE roll_call_target RESET (fillfactor)")
