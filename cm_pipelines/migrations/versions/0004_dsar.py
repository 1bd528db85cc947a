"""dsar: tables of this capability (filled in by its owner).

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
        "ix_restrictions_tenant_hash", "restrictions", ["tenant_id", "identifier_hash"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_restrictions_tenant_hash", table_name="restrictions")
    op.drop_table("restrictions")
