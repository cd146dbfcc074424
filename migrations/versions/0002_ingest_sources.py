"""Ingest sources: gateways, cameras and their sightings, radio-only reports, unknown devices,
secret device keys, and the retention function for `fix` partitions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:50:26.076812
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Retention drops whole day partitions, never rows.
FIX_DROP_PARTITIONS = r"""
CREATE FUNCTION fix_drop_partitions_before(cutoff date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part text;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('fix_ensure_partitions'));
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'fix'::regclass AND c.relname ~ '^fix_p[0-9]{8}$'
          AND to_date(substr(c.relname, 6), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE %I', part);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "radio_report",
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("radio", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("supervisee_id", "ts", "device_id", name=op.f("pk_radio_report")),
    )
    op.create_table(
        "sighting",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "supervisee_id", "ts", name=op.f("pk_sighting")),
    )
    op.create_index(op.f("ix_sighting_supervisee_id"), "sighting", ["supervisee_id"], unique=False)
    op.create_table(
        "unknown_device",
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("device_key", sa.String(length=128), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_remote_addr", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("protocol", "device_key", name=op.f("pk_unknown_device")),
    )
    op.create_table(
        "camera",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.Enum("camera", "office", name="camera_kind"), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("radius_m", sa.Float(), server_default="30", nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_camera_district_id_district"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera")),
        sa.UniqueConstraint("code", name=op.f("uq_camera_code")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_camera_token_hash")),
    )
    op.create_index(op.f("ix_camera_district_id"), "camera", ["district_id"], unique=False)
    op.create_table(
        "gateway",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_gateway_district_id_district"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gateway_token_hash")),
    )
    op.create_index(op.f("ix_gateway_district_id"), "gateway", ["district_id"], unique=False)
    op.add_column("device", sa.Column("key_is_secret", sa.Boolean(), server_default="false", nullable=False))
    # Ids ewall generated before this revision are long and random too.
    op.execute("UPDATE device SET key_is_secret = true WHERE external_id LIKE 'ew-%'")
    op.execute(FIX_DROP_PARTITIONS)


def downgrade() -> None:
    op.execute("DROP FUNCTION fix_drop_partitions_before(date)")
    op.drop_column("device", "key_is_secret")
    op.drop_index(op.f("ix_gateway_district_id"), table_name="gateway")
    op.drop_table("gateway")
    op.drop_index(op.f("ix_camera_district_id"), table_name="camera")
    op.drop_table("camera")
    op.drop_table("unknown_device")
    op.drop_index(op.f("ix_sighting_supervisee_id"), table_name="sighting")
    op.drop_table("sighting")
    op.drop_table("radio_report")
    op.execute("DROP TYPE camera_kind")
