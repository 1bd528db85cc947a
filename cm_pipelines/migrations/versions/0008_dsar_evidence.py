"""DSAR evidence: the erasure ledger (keyed hashes of erased subjects, consulted by ingestion).

Revision ID: 0008_dsar_evidence
Revises: 0007_operations
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_dsar_evidence"
down_revision = "0007_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dsar_erased_subjects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("identifier_kind", sa.String(length=16), nullable=False),
        sa.Column("identifier_hash", sa.String(length=80), nullable=False),
        sa.Column("name_words", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("erased_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsar_erased_subjects")),
        sa.UniqueConstraint(
            "tenant_id",
            "identifier_kind",
            "identifier_hash",
            name=op.f("uq_dsar_erased_subjects_tenant_id_identifier_kind_identifier_hash"),
        ),
    )
    op.create_index(
        "ix_dsar_erased_subjects_tenant", "dsar_erased_subjects", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_dsar_erased_subjects_tenant", table_name="dsar_erased_subjects")
    op.drop_table("dsar_erased_subjects")
