"""Join the two roll-call revisions made in parallel (core's fillfactor, answers' photo storage) into
one head, so the console's branch migrates; when the merger renumbers them in a line, this goes.

Revision ID: 0020_merge_rollcall_heads
Revises: 0019_roll_call_target_fillfactor, 0019_rollcall_photo_storage
"""

from collections.abc import Sequence

revision: str = "0020_merge_rollcall_heads"
down_revision: tuple[str, ...] = ("0019_roll_call_target_fillfactor", "0019_rollcall_photo_storage")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
