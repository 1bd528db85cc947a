"""dncr compliance: the internal do-not-call list's intake fields, and pre-call check records

Revision ID: 0009_dncr_compliance
Revises: 0007_operations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_dncr_compliance"
down_revision = "0008_dsar_evidence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suppression_entries") as batch:
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("honour_by", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("requested_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("source_ref", sa.String(length=512), nullable=True))
    op.create_table(
        "dncr_check_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("e164_hash", sa.String(length=80), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("registry_id", sa.String(length=64), nullable=True),
        sa.Column("registry_version", sa.String(length=80), nullable=True),
        sa.Column("evidence_date", sa.Date(), nullable=True),
        sa.Column("evidence_age_days", sa.Float(), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("checked_by", sa.String(length=128), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dncr_check_records")),
    )
    op.create_index(
        "ix_dncr_check_records_tenant_checked",
        "dncr_check_records",
        ["tenant_id", "checked_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_dncr_check_records_tenant_checked", table_name="dncr_check_records")
    op.drop_table("dncr_check_records")
    with op.batch_alter_table("suppression_entries") as batch:
        for column in ("source_ref", "requested_by", "expires_at", "honour_by", "received_at"):
            batch.drop_column(column)
