"""The audit chain's seals and scope: each entry's HMAC seal under the audit key (kept outside the
database), the district it concerns (auditors see their own districts' entries), and an index on its
time for the auditors' filters.

It alters audit_log, so it runs before ``ops.embedded.secure_audit_log`` hands the table to its own
owner; a later revision that alters audit_log must run as that owner (README, "Audit chain").

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("district_id", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("seal", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_audit_log_district_id"), "audit_log", ["district_id"], unique=False)
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_district_id"), table_name="audit_log")
    op.drop_column("audit_log", "seal")
    op.drop_column("audit_log", "district_id")
