"""dncr post-call audit: violations found when placed calls are matched against decisions

Revision ID: 0014_dncr_post_call_audit
Revises: 0012_dsar_operator
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_dncr_post_call_audit"
down_revision = "0013_crm_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dncr_post_call_violations",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("call_day", sa.Date(), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("e164_hash", sa.String(length=80), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence_source", sa.String(length=16), nullable=True),
        sa.Column("evidence_ref", sa.String(length=64), nullable=True),
        sa.Column("registry_id", sa.String(length=64), nullable=True),
        sa.Column("registry_version", sa.String(length=80), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("audited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "call_id", "reason", name=op.f("pk_dncr_post_call_violations")
        ),
    )
    op.create_index(
        "ix_dncr_post_call_violations_tenant_day",
        "dncr_post_call_violations",
        ["tenant_id", "call_day"],
    )


def downgrade() -> None:
    op.drop_index("ix_dncr_post_call_violations_tenant_day", table_name="dncr_post_call_violations")
    op.drop_table("dncr_post_call_violations")
