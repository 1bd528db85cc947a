"""call_volumes: daily call volumes per tenant, recomputed over any range of call days in one run

Revision ID: 0006_call_volumes
Revises: 0005_trust
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_call_volumes"
down_revision = "0005_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_day_volumes",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("call_day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("answered_calls", sa.Integer(), nullable=False),
        sa.Column("billed_seconds", sa.BigInteger(), nullable=False),
        sa.Column("recordings", sa.Integer(), nullable=False),
        sa.Column("recording_bytes", sa.BigInteger(), nullable=False),
        sa.Column("transcripts", sa.Integer(), nullable=False),
        sa.Column("ai_outputs", sa.Integer(), nullable=False),
        sa.Column("crm_links", sa.Integer(), nullable=False),
        sa.Column("quarantined_items", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "call_day", name=op.f("pk_call_day_volumes")),
    )
    op.create_index("ix_call_day_volumes_call_day", "call_day_volumes", ["call_day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_call_day_volumes_call_day", table_name="call_day_volumes")
    op.drop_table("call_day_volumes")
