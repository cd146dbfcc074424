"""Generated device keys are passwords: kept only as their SHA-256 (and a hint of their last
characters), in the audit detail too; unknown devices keep only the hint of such a key. Indexes for
the retention job, which deletes old radio reports, sightings and unknown devices by time in batches.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENERATED_KEY = r"'^ew-[0-9a-f]{32}$'"
# Unknown devices that reported a generated key (a deactivated or mistyped one) keep only its hint;
# keys that share a hint merge into one row.
MASK_UNKNOWN_KEYS = f"""
WITH secret AS (DELETE FROM unknown_device WHERE device_key ~ {GENERATED_KEY} RETURNING *)
INSERT INTO unknown_device (protocol, device_key, first_seen_at, last_seen_at, attempts, last_remote_addr)
SELECT protocol, 'ew-…' || right(device_key, 4), min(first_seen_at), max(last_seen_at), sum(attempts)::int,
       (array_agg(last_remote_addr ORDER BY last_seen_at DESC))[1]
FROM secret GROUP BY 1, 2
"""


def upgrade() -> None:
    op.add_column("device", sa.Column("key_hash", sa.String(length=64), nullable=True))
    op.add_column("device", sa.Column("key_hint", sa.String(length=16), nullable=True))
    op.alter_column("device", "external_id", existing_type=sa.String(length=64), nullable=True)
    op.execute(
        "UPDATE device SET key_hash = encode(sha256(convert_to(external_id, 'UTF8')), 'hex'),"
        " key_hint = 'ew-…' || right(external_id, 4), external_id = NULL WHERE key_is_secret"
    )
    op.create_unique_constraint(op.f("uq_device_key_hash"), "device", ["key_hash"])
    op.create_check_constraint(
        op.f("ck_device_identified"), "device", "external_id IS NOT NULL OR key_hash IS NOT NULL"
    )
    op.execute(MASK_UNKNOWN_KEYS)
    op.create_index(op.f("ix_radio_report_ts"), "radio_report", ["ts"])
    op.create_index(op.f("ix_sighting_ts"), "sighting", ["ts"])
    op.create_index(op.f("ix_unknown_device_last_seen_at"), "unknown_device", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_unknown_device_last_seen_at"), table_name="unknown_device")
    op.drop_index(op.f("ix_sighting_ts"), table_name="sighting")
    op.drop_index(op.f("ix_radio_report_ts"), table_name="radio_report")
    op.drop_constraint(op.f("ck_device_identified"), "device", type_="check")
    op.drop_constraint(op.f("uq_device_key_hash"), "device", type_="unique")
    # The keys themselves are gone: such devices keep their hash as id and must be registered again.
    op.execute("UPDATE device SET external_id = key_hash WHERE external_id IS NULL")
    op.alter_column("device", "external_id", existing_type=sa.String(length=64), nullable=False)
    op.drop_column("device", "key_hint")
    op.drop_column("device", "key_hash")
