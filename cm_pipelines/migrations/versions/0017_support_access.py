"""support access: remote-assistance grants (tenant, support identity, scopes, window)

Revision ID: 0017_support_access
Revises: 0014_dncr_post_call_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_support_access"
down_revision = "0014_dncr_post_call_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_access_grants",
        sa.Column("grant_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("granted_to", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=False),
        sa.Column("approved_by_hash", sa.String(length=80), nullable=False),
        sa.Column("ticket_ref", sa.String(length=64), nullable=False),
        sa.Column("granted_by", sa.String(length=128), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=128), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("grant_id", name=op.f("pk_support_access_grants")),
    )
    op.create_index(
        "ix_support_access_grants_holder",
        "support_access_grants",
        ["tenant_id", "granted_to"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_support_access_grants_holder", table_name="support_access_grants")
    op.drop_table("support_access_grants")
