"""Initial schema: caseload, zones, partitioned fixes, alerts and the audit chain.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:12:09.080960
"""

from collections.abc import Sequence

import geoalchemy2  # noqa: F401  (geospatial ops register on alembic.op)
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ENUM_TYPES = (
    "district_level",
    "officer_role",
    "supervisee_category",
    "risk_level",
    "device_kind",
    "datum",
    "zone_kind",
    "alert_level",
    "alert_status",
    "alert_disposition",
)

# Day partitions of `fix`, in UTC days; the persist worker calls this ahead of time and for any
# day a batch needs. The advisory lock keeps concurrent workers from racing on CREATE TABLE.
FIX_ENSURE_PARTITIONS = """
CREATE FUNCTION fix_ensure_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day date;
    created integer := 0;
    part text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('fix_ensure_partitions'));
    FOR day IN SELECT generate_series(first_day, last_day, interval '1 day')::date LOOP
        part := 'fix_p' || to_char(day, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF fix FOR VALUES FROM (%L) TO (%L)', part,
                           day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END $$;
"""

# The audit chain is append-only in the database too; verification still catches a superuser
# who disables this.
AUDIT_APPEND_ONLY = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_table(
        "district",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("level", sa.Enum("province", "city", "county", "township", name="district_level"), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["district.id"], name=op.f("fk_district_parent_id_district"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_district")),
        sa.UniqueConstraint("code", name=op.f("uq_district_code")),
    )
    op.create_index(op.f("ix_district_parent_id"), "district", ["parent_id"], unique=False)
    op.create_table(
        "fix",
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.DOUBLE_PRECISION(), nullable=False),
        sa.Column("lon", sa.DOUBLE_PRECISION(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("altitude_m", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.SmallInteger(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("supervisee_id", "ts", "device_id", name=op.f("pk_fix")),
        postgresql_partition_by="RANGE (ts)",
    )
    op.create_table(
        "officer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role", sa.Enum("officer", "supervisor", "command", "auditor", "admin", name="officer_role"), nullable=False
        ),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("supervisor_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_officer_district_id_district"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"], ["officer.id"], name=op.f("fk_officer_supervisor_id_officer"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officer")),
        sa.UniqueConstraint("username", name=op.f("uq_officer_username")),
    )
    op.create_index(op.f("ix_officer_district_id"), "officer", ["district_id"], unique=False)
    op.create_table(
        "supervisee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column(
            "category",
            sa.Enum("control", "probation", "parole", "temporary_release", name="supervisee_category"),
            nullable=False,
        ),
        sa.Column("risk_level", sa.Enum("low", "medium", "high", name="risk_level"), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("supervision_start", sa.Date(), nullable=False),
        sa.Column("supervision_end", sa.Date(), nullable=True),
        sa.Column("monitoring_start", sa.Date(), nullable=True),
        sa.Column("monitoring_end", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "supervision_end IS NULL OR supervision_end >= supervision_start",
            name=op.f("ck_supervisee_supervision_period"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_supervisee_district_id_district"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_supervisee_officer_id_officer"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervisee")),
        sa.UniqueConstraint("code", name=op.f("uq_supervisee_code")),
    )
    op.create_index(op.f("ix_supervisee_district_id"), "supervisee", ["district_id"], unique=False)
    op.create_index(op.f("ix_supervisee_officer_id"), "supervisee", ["officer_id"], unique=False)
    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("phone", "tracker", name="device_kind"), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("datum", sa.Enum("wgs84", "gcj02", "bd09", name="datum"), server_default="wgs84", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["supervisee_id"], ["supervisee.id"], name=op.f("fk_device_supervisee_id_supervisee"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("external_id", name=op.f("uq_device_external_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_device_token_hash")),
    )
    op.create_index(op.f("ix_device_supervisee_id"), "device", ["supervisee_id"], unique=False)
    op.create_table(
        "last_position",
        sa.Column("supervisee_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.DOUBLE_PRECISION(), nullable=False),
        sa.Column("lon", sa.DOUBLE_PRECISION(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("battery_pct", sa.SmallInteger(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("supervisee_id", name=op.f("pk_last_position")),
    )
    op.create_geospatial_table(
        "zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.Enum("inclusion", "exclusion", "poi", name="zone_kind"), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("buffer_m", sa.Float(), server_default="0", nullable=False),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("severity", sa.Enum("yellow", "red", name="alert_level"), server_default="yellow", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("(supervisee_id IS NULL) <> (district_id IS NULL)", name=op.f("ck_zone_one_owner")),
        sa.CheckConstraint("buffer_m >= 0", name=op.f("ck_zone_buffer_non_negative")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name=op.f("ck_zone_validity")
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_zone_district_id_district"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["supervisee_id"], ["supervisee.id"], name=op.f("fk_zone_supervisee_id_supervisee"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
    )
    op.create_geospatial_index(
        "idx_zone_geom", "zone", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_zone_district_id"), "zone", ["district_id"], unique=False)
    op.create_index(op.f("ix_zone_supervisee_id"), "zone", ["supervisee_id"], unique=False)
    op.create_index(op.f("ix_zone_updated_at"), "zone", ["updated_at"], unique=False)
    op.create_table(
        "alert",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("supervisee_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("level", postgresql.ENUM("yellow", "red", name="alert_level", create_type=False), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "acknowledged", "resolved", name="alert_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("dedup_key", sa.String(length=120), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_evidence_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column(
            "disposition",
            sa.Enum("confirmed_violation", "false_alarm", "approved_absence", "other", name="alert_disposition"),
            nullable=True,
        ),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["officer.id"], name=op.f("fk_alert_acknowledged_by_officer"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["officer.id"], name=op.f("fk_alert_assignee_id_officer"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["officer.id"], name=op.f("fk_alert_resolved_by_officer"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["supervisee_id"], ["supervisee.id"], name=op.f("fk_alert_supervisee_id_supervisee"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_alert_zone_id_zone"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    op.create_index("ix_alert_status_level", "alert", ["status", "level"], unique=False)
    op.create_index(op.f("ix_alert_supervisee_id"), "alert", ["supervisee_id"], unique=False)
    op.create_index(
        "uq_alert_live_dedup_key",
        "alert",
        ["dedup_key"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL AND status <> 'resolved'"),
    )
    op.create_table(
        "alert_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_alert_event_alert_id_alert"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_event")),
    )
    op.create_index(op.f("ix_alert_event_alert_id"), "alert_event", ["alert_id"], unique=False)
    op.execute(FIX_ENSURE_PARTITIONS)
    op.execute("SELECT fix_ensure_partitions(current_date - 1, current_date + 7)")
    op.execute(AUDIT_APPEND_ONLY)


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index(op.f("ix_alert_event_alert_id"), table_name="alert_event")
    op.drop_table("alert_event")
    op.drop_index(
        "uq_alert_live_dedup_key",
        table_name="alert",
        postgresql_where=sa.text("ended_at IS NULL AND status <> 'resolved'"),
    )
    op.drop_index(op.f("ix_alert_supervisee_id"), table_name="alert")
    op.drop_index("ix_alert_status_level", table_name="alert")
    op.drop_table("alert")
    op.drop_index(op.f("ix_zone_updated_at"), table_name="zone")
    op.drop_index(op.f("ix_zone_supervisee_id"), table_name="zone")
    op.drop_index(op.f("ix_zone_district_id"), table_name="zone")
    op.drop_geospatial_index("idx_zone_geom", table_name="zone", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("zone")
    op.drop_table("last_position")
    op.drop_index(op.f("ix_device_supervisee_id"), table_name="device")
    op.drop_table("device")
    op.drop_index(op.f("ix_supervisee_officer_id"), table_name="supervisee")
    op.drop_index(op.f("ix_supervisee_district_id"), table_name="supervisee")
    op.drop_table("supervisee")
    op.drop_index(op.f("ix_officer_district_id"), table_name="officer")
    op.drop_table("officer")
    op.drop_table("fix")  # drops its partitions with it
    op.execute("DROP FUNCTION fix_ensure_partitions(date, date)")
    op.drop_index(op.f("ix_district_parent_id"), table_name="district")
    op.drop_table("district")
    op.drop_table("audit_log")
    for name in ENUM_TYPES:
        op.execute(f"DROP TYPE {name}")
