"""The append-only, hash-chained audit log."""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import JsonDocument, UtcDateTime, metadata

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=True),
    sa.Column("object_refs", JsonDocument, nullable=False),
    sa.Column("details", JsonDocument, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_audit_log_tenant_action", "tenant_id", "action"),
)
