"""Sign-in security: accounts whose password someone else set must change it first; a session version
per officer revokes their tokens (logout, password change, deactivation); failed sign-ins per account
and per source address are counted in one table that every portal process shares.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("officer", sa.Column("must_change_password", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("officer", sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttle")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttle")
    op.drop_column("officer", "session_version")
    op.drop_column("officer", "must_change_password")
