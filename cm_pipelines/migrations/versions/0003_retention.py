"""retention: tables of this capability (filled in by its owner).

Revision ID: 0003_retention
Revises: 0002_dncr
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_retention"
down_revision = "0002_dncr"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("hold_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("e164", sa.String(length=80), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("from_date", sa.Date(), nullable=True),
        sa.Column("to_date", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=128), nullable=True),
        sa.Column("release_reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("hold_id", name=op.f("pk_legal_holds")),
    )
    op.create_index(
        "ix_legal_holds_tenant", "legal_holds", ["tenant_id", "released_at"], unique=False
    )
    json_type = sa.JSON().with_variant(sa.JSON(), "sqlite")
    op.create_table(
        "retention_policy_versions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("config_sha256", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "record_type", "version", name=op.f("pk_retention_policy_versions")
        ),
    )
    op.create_table(
        "retention_states",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("artefact_id", sa.String(length=160), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=64), nullable=False),
        sa.Column("expiry_basis", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=140), nullable=True),
        sa.Column("basis_date", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("hold_ids", sa.String(length=500), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "record_type", "artefact_id", name=op.f("pk_retention_states")
        ),
    )
    op.create_index(
        "ix_retention_states_state",
        "retention_states",
        ["tenant_id", "state", "expires_on"],
        unique=False,
    )
    op.create_table(
        "purge_plans",
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("scope_tenant_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_run_id", sa.String(length=64), nullable=True),
        sa.Column("last_run_id", sa.String(length=64), nullable=True),
        sa.Column("thresholds", json_type, nullable=False),
        sa.Column("tenant_totals", json_type, nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("object_count", sa.Integer(), nullable=False),
        sa.Column("batch_count", sa.Integer(), nullable=False),
        sa.Column("items_sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest_path", sa.String(length=512), nullable=True),
        sa.Column("guard_result", json_type, nullable=True),
        sa.Column("override_reason", sa.String(length=500), nullable=True),
        sa.Column("override_by", sa.String(length=128), nullable=True),
        sa.Column("override_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proof_path", sa.String(length=512), nullable=True),
        sa.Column("proof_sha256", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by_run", sa.String(length=64), nullable=True),
        sa.Column("claim_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_purge_plans")),
    )
    op.create_index("ix_purge_plans_status", "purge_plans", ["status"], unique=False)
    op.create_table(
        "purge_plan_items",
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("item_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("artefact_id", sa.String(length=160), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("object_path", sa.String(length=512), nullable=True),
        sa.Column("object_sha256", sa.String(length=64), nullable=True),
        sa.Column("policy_version", sa.String(length=140), nullable=False),
        sa.Column("basis", sa.String(length=64), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", "item_no", name=op.f("pk_purge_plan_items")),
    )
    op.create_index(
        "ix_purge_plan_items_batch", "purge_plan_items", ["plan_id", "batch_no"], unique=False
    )
    op.create_table(
        "purge_batches",
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("batch_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("object_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("objects_deleted", sa.Integer(), nullable=True),
        sa.Column("objects_failed", sa.Integer(), nullable=True),
        sa.Column("rows_purged", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", "batch_no", name=op.f("pk_purge_batches")),
    )
    op.create_table(
        "retention_tombstones",
        sa.Column("tombstone_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("artefact_id", sa.String(length=160), nullable=False),
        sa.Column("object_sha256", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=140), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("tombstone_id", name=op.f("pk_retention_tombstones")),
        sa.UniqueConstraint(
            "tenant_id",
            "record_type",
            "artefact_id",
            name=op.f("uq_retention_tombstones_tenant_id_record_type_artefact_id"),
        ),
    )
    op.create_index(
        "ix_retention_tombstones_plan", "retention_tombstones", ["plan_id"], unique=False
    )
    # a purge wipes a quarantined line's raw record and marks the row (0001 created the table)
    op.add_column("quarantine", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
    op.drop_index("ix_retention_tombstones_plan", table_name="retention_tombstones")
    op.drop_table("retention_tombstones")
    op.drop_table("purge_batches")
    op.drop_index("ix_purge_plan_items_batch", table_name="purge_plan_items")
    op.drop_table("purge_plan_items")
    op.drop_index("ix_purge_plans_status", table_name="purge_plans")
    op.drop_table("purge_plans")
    op.drop_index("ix_retention_states_state", table_name="retention_states")
    op.drop_table("retention_states")
    op.drop_table("retention_policy_versions")
    op.drop_index("ix_legal_holds_tenant", table_name="legal_holds")
    op.drop_table("legal_holds")
