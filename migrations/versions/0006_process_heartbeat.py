"""Each process's heartbeat, for readiness and for telling the platform's own outages apart.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_heartbeat",
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("process", name=op.f("pk_process_heartbeat")),
    )
    op.create_index(op.f("ix_process_heartbeat_role"), "process_heartbeat", ["role"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_process_heartbeat_role"), table_name="process_heartbeat")
    op.drop_table("process_heartbeat")
