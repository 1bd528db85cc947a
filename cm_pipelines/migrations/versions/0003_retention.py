"""retention: tables of this capability (filled in by its owner).

Revision ID: 0003_retention
Revises: 0002_dncr
"""

from __future__ import annotations

revision = "0003_retention"
down_revision = "0002_dncr"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
