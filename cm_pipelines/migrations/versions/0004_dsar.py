"""dsar: data-subject requests, step log, per-store results, erasure plan and outbox,
export records, certificates and restrictions.

Revision ID: 0004_dsar
Revises: 0003_retention
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_dsar"
down_revision = "0003_retention"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(sa.JSON(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "restrictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("identifier_hash", sa.String(length=80), nullable=False),
        sa.Column("identifier_kind", sa.String(length=16), nullable=False),
        sa.Column("dsar_request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restrictions")),
        sa.UniqueConstraint(
            "tenant_id",
            "identifier_hash",
            "dsar_request_id",
            name=op.f("uq_restrictions_tenant_id_identifier_hash_dsar_request_id"),
        ),
    )
    op.create_index(
        "ix_restrictions_tenant_hash",
        "restrictions",
        ["tenant_id", "identifier_hash"],
        unique=False,
    )

    op.create_table(
        "dsar_requests",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("request_type", sa.String(length=32), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("identifiers", _json(), nullable=False),
        sa.Column("identifier_hashes", _json(), nullable=False),
        sa.Column("rectification", _json(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("extended_due_date", sa.Date(), nullable=True),
        sa.Column("extension_reason", sa.String(length=500), nullable=True),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extended_by", sa.String(length=128), nullable=True),
        sa.Column("ack_due_date", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("verification_method", sa.String(length=64), nullable=True),
        sa.Column("verified_by", sa.String(length=128), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason", sa.String(length=500), nullable=True),
        sa.Column("submitted_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identifiers_erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.String(length=64), nullable=True),
        sa.Column("result_path", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_dsar_requests")),
    )
    op.create_index("ix_dsar_requests_state", "dsar_requests", ["state", "tenant_id"], unique=False)
    op.create_table(
        "dsar_steps",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("details", _json(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "step", name=op.f("pk_dsar_steps")),
    )
    op.create_table(
        "dsar_store_results",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("store", sa.String(length=32), nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("acted", sa.Integer(), nullable=False),
        sa.Column("exempted", sa.Integer(), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "phase", "store", name=op.f("pk_dsar_store_results")),
    )
    op.create_table(
        "dsar_plan_items",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=32), nullable=False),
        sa.Column("item_ref", sa.String(length=512), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("basis", sa.String(length=300), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("details", _json(), nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "store", "item_ref", name=op.f("pk_dsar_plan_items")),
    )
    op.create_table(
        "dsar_erasure_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=16), nullable=False),
        sa.Column("record_refs", _json(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsar_erasure_outbox")),
        sa.UniqueConstraint(
            "request_id", "recipient", name=op.f("uq_dsar_erasure_outbox_request_id_recipient")
        ),
    )
    op.create_index(
        "ix_dsar_erasure_outbox_status",
        "dsar_erasure_outbox",
        ["status", "tenant_id"],
        unique=False,
    )
    op.create_table(
        "dsar_exports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("object_path", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("encryption", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsar_exports")),
    )
    op.create_index(
        "ix_dsar_exports_expiry", "dsar_exports", ["expires_at", "deleted_at"], unique=False
    )
    op.create_index("ix_dsar_exports_request", "dsar_exports", ["request_id"], unique=False)
    op.create_table(
        "dsar_certificates",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("object_path", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("body", _json(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_dsar_certificates")),
    )


def downgrade() -> None:
    op.drop_table("dsar_certificates")
    op.drop_index("ix_dsar_exports_request", table_name="dsar_exports")
    op.drop_index("ix_dsar_exports_expiry", table_name="dsar_exports")
    op.drop_table("dsar_exports")
    op.drop_index("ix_dsar_erasure_outbox_status", table_name="dsar_erasure_outbox")
    op.drop_table("dsar_erasure_outbox")
    op.drop_table("dsar_plan_items")
    op.drop_table("dsar_store_results")
    op.drop_table("dsar_steps")
    op.drop_index("ix_dsar_requests_state", table_name="dsar_requests")
    op.drop_table("dsar_requests")
    op.drop_index("ix_restrictions_tenant_hash", table_name="restrictions")
    op.drop_table("restrictions")
