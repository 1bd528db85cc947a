"""operations: approvals of destructive actions by a second person

Revision ID: 0007_operations
Revises: 0006_call_volumes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_operations"
down_revision = "0006_call_volumes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operation_approvals",
        sa.Column("approval_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("approval_id", name=op.f("pk_operation_approvals")),
    )
    op.create_index(
        "ix_operation_approvals_target",
        "operation_approvals",
        ["action", "target", "state"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_operation_approvals_target", table_name="operation_approvals")
    op.drop_table("operation_approvals")
