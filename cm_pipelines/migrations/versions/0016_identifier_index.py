"""identifier index: keyed hashes of identifiers found in transcripts and AI outputs

Revision ID: 0016_identifier_index
Revises: 0014_dncr_post_call_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_identifier_index"
down_revision = "0017_support_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identifier_index",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("keyed_hash", sa.String(length=80), nullable=False),
        sa.Column("artefact_kind", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("artefact_sub_kind", sa.String(length=32), nullable=False),
        sa.Column("identifier_kind", sa.String(length=16), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "keyed_hash",
            "artefact_kind",
            "call_id",
            "artefact_sub_kind",
            name=op.f("pk_identifier_index"),
        ),
    )
    op.create_index(
        "ix_identifier_index_artefact",
        "identifier_index",
        ["tenant_id", "artefact_kind", "call_id"],
    )
    op.create_index(
        "ix_identifier_index_partition", "identifier_index", ["partition_date", "tenant_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_identifier_index_partition", table_name="identifier_index")
    op.drop_index("ix_identifier_index_artefact", table_name="identifier_index")
    op.drop_table("identifier_index")
