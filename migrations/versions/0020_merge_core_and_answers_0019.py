"""Joins the two 0019 revisions of #16's parallel parts (core's target fill factor, answers' photo
storage) so that this branch has one head; the merger, who renumbers them into one line, drops it.

Revision ID: 0020_merge_core_and_answers_0019
Revises: 0019_roll_call_target_fillfactor, 0019_rollcall_photo_storage
Create Date: 2026-12-03 17:30:00
"""

from collections.abc import Sequence

revision: str = "0020_merge_core_and_answers_0019"
down_revision: tuple[str, ...] = ("0019_roll_call_target_fillfactor", "0019_rollcall_photo_storage")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # nothing to change: the two revisions touch different things


def downgrade() -> None:
    pass
