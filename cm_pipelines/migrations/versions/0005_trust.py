"""trust: tables of this capability (filled in by its owner).

Revision ID: 0005_trust
Revises: 0004_dsar
"""

from __future__ import annotations

revision = "0005_trust"
down_revision = "0004_dsar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
