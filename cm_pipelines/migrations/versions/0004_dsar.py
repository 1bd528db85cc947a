"""dsar: tables of this capability (filled in by its owner).

Revision ID: 0004_dsar
Revises: 0003_retention
"""

from __future__ import annotations

revision = "0004_dsar"
down_revision = "0003_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
