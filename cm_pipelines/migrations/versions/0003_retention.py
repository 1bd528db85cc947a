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


def downgrade() -> None:
    op.drop_index("ix_legal_holds_tenant", table_name="legal_holds")
    op.drop_table("legal_holds")
