"""dncr: consents, suppression, wash results, blocked calls, registry versions and changes,
campaign washes.

Revision ID: 0002_dncr
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_dncr"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blocked_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("e164_hash", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=120), nullable=False),
        sa.Column("registry_id", sa.String(length=32), nullable=True),
        sa.Column("registry_version", sa.String(length=80), nullable=True),
        sa.Column("evidence_date", sa.Date(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocked_calls")),
    )
    op.create_index(
        "ix_blocked_calls_tenant_hash", "blocked_calls", ["tenant_id", "e164_hash"], unique=False
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("e164", sa.String(length=80), nullable=True),
        sa.Column("e164_hash", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=120), nullable=True),
        sa.Column("source_file", sa.String(length=512), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restricted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index("ix_consents_tenant_e164", "consents", ["tenant_id", "e164"], unique=False)
    op.create_index("ix_consents_tenant_hash", "consents", ["tenant_id", "e164_hash"], unique=False)
    op.create_table(
        "suppression_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("e164", sa.String(length=80), nullable=True),
        sa.Column("e164_hash", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("dsar_request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_entries")),
        sa.UniqueConstraint(
            "tenant_id",
            "e164_hash",
            "source",
            name=op.f("uq_suppression_entries_tenant_id_e164_hash_source"),
        ),
    )
    op.create_index(
        "ix_suppression_tenant_e164", "suppression_entries", ["tenant_id", "e164"], unique=False
    )
    op.create_table(
        "wash_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("e164", sa.String(length=80), nullable=True),
        sa.Column("e164_hash", sa.String(length=80), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("registry_id", sa.String(length=32), nullable=True),
        sa.Column("registry_version", sa.String(length=80), nullable=True),
        sa.Column("evidence_date", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("calling_window", sa.JSON(), nullable=True),
        sa.Column("washed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("restricted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wash_results")),
    )
    op.create_index(
        "ix_wash_results_tenant_campaign",
        "wash_results",
        ["tenant_id", "campaign_id"],
        unique=False,
    )
    op.create_index(
        "ix_wash_results_tenant_e164", "wash_results", ["tenant_id", "e164"], unique=False
    )
    op.create_table(
        "registry_versions",
        sa.Column("registry_id", sa.String(length=32), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_kind", sa.String(length=32), nullable=False),
        sa.Column("data_as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("number_count", sa.BigInteger(), nullable=False),
        sa.Column("registered_count", sa.BigInteger(), nullable=True),
        sa.Column("lines_read", sa.BigInteger(), nullable=False),
        sa.Column("bad_lines", sa.BigInteger(), nullable=False),
        sa.Column("blank_lines", sa.BigInteger(), nullable=False),
        sa.Column("duplicate_lines", sa.BigInteger(), nullable=False),
        sa.Column("invalid_numbers", sa.BigInteger(), nullable=False),
        sa.Column("unreadable_files", sa.Integer(), nullable=False),
        sa.Column("change_additions", sa.BigInteger(), nullable=False),
        sa.Column("change_deletions", sa.BigInteger(), nullable=False),
        sa.Column("previous_version_id", sa.String(length=64), nullable=True),
        sa.Column("previous_count", sa.BigInteger(), nullable=True),
        sa.Column("previous_data_as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_count", sa.BigInteger(), nullable=True),
        sa.Column("removed_count", sa.BigInteger(), nullable=True),
        sa.Column("source_files", sa.JSON(), nullable=False),
        sa.Column("numbers_sha256", sa.String(length=64), nullable=False),
        sa.Column("parquet_path", sa.String(length=512), nullable=False),
        sa.Column("parquet_sha256", sa.String(length=64), nullable=False),
        sa.Column("parquet_bytes", sa.BigInteger(), nullable=False),
        sa.Column("check_results", sa.JSON(), nullable=True),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("promoted_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("registry_id", "version_id", name=op.f("pk_registry_versions")),
    )
    op.create_index(
        "ix_registry_versions_registry_status",
        "registry_versions",
        ["registry_id", "status"],
        unique=False,
    )
    op.create_table(
        "registry_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("registry_id", sa.String(length=32), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("previous_version_id", sa.String(length=64), nullable=True),
        sa.Column("added_count", sa.BigInteger(), nullable=False),
        sa.Column("removed_count", sa.BigInteger(), nullable=False),
        sa.Column("changes_path", sa.String(length=512), nullable=False),
        sa.Column("changes_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_changes")),
        sa.UniqueConstraint(
            "registry_id",
            "version_id",
            name=op.f("uq_registry_changes_registry_id_version_id"),
        ),
    )
    op.create_table(
        "campaign_washes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("source_file", sa.String(length=512), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("washed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("numbers", sa.Integer(), nullable=False),
        sa.Column("allowed", sa.Integer(), nullable=False),
        sa.Column("blocked", sa.Integer(), nullable=False),
        sa.Column("restricted_skipped", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("registry_versions", sa.JSON(), nullable=False),
        sa.Column("allowed_export_path", sa.String(length=512), nullable=True),
        sa.Column("allowed_export_sha256", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_washes")),
    )
    op.create_index(
        "ix_campaign_washes_tenant_campaign",
        "campaign_washes",
        ["tenant_id", "campaign_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_washes_tenant_campaign", table_name="campaign_washes")
    op.drop_table("campaign_washes")
    op.drop_table("registry_changes")
    op.drop_index("ix_registry_versions_registry_status", table_name="registry_versions")
    op.drop_table("registry_versions")
    op.drop_index("ix_wash_results_tenant_e164", table_name="wash_results")
    op.drop_index("ix_wash_results_tenant_campaign", table_name="wash_results")
    op.drop_table("wash_results")
    op.drop_index("ix_suppression_tenant_e164", table_name="suppression_entries")
    op.drop_table("suppression_entries")
    op.drop_index("ix_consents_tenant_hash", table_name="consents")
    op.drop_index("ix_consents_tenant_e164", table_name="consents")
    op.drop_table("consents")
    op.drop_index("ix_blocked_calls_tenant_hash", table_name="blocked_calls")
    op.drop_table("blocked_calls")
