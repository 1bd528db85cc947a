"""crm delivery: attempts, next attempt, last status and dead letters of DSAR outbox tasks

Revision ID: 0013_crm_delivery
Revises: 0012_dsar_operator
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_crm_delivery"
down_revision = "0012_dsar_operator"
branch_labels = None
depends_on = None

COLUMNS = (
    ("next_attempt_at", sa.DateTime(timezone=True)),
    ("last_attempt_at", sa.DateTime(timezone=True)),
    ("last_status_code", sa.Integer()),
    ("last_outcome", sa.String(length=64)),
    ("idempotency_key", sa.String(length=64)),
    ("connector", sa.String(length=16)),
    ("dead_lettered_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("dsar_erasure_outbox") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsar_erasure_outbox") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
        batch.drop_column("attempts")
