"""dsar operator: refusals with a reason code, the CCPA acknowledgement, lifted restrictions

Revision ID: 0012_dsar_operator
Revises: 0007_operations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_dsar_operator"
down_revision = "0009_dncr_compliance"
branch_labels = None
depends_on = None

COLUMNS = (
    ("refusal_code", sa.String(length=32)),
    ("refused_at", sa.DateTime(timezone=True)),
    ("refused_by", sa.String(length=128)),
    ("acknowledged_on", sa.Date()),
    ("acknowledged_at", sa.DateTime(timezone=True)),
    ("acknowledged_by", sa.String(length=128)),
    ("restriction_lifted_at", sa.DateTime(timezone=True)),
    ("restriction_lifted_by", sa.String(length=128)),
    ("lift_reason", sa.String(length=500)),
)


def upgrade() -> None:
    with op.batch_alter_table("dsar_requests") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsar_requests") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
