"""Retention: legal holds (shared with DSAR erasure), policies, states, purge manifests."""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import UtcDateTime, metadata

legal_holds = sa.Table(
    "legal_holds",
    metadata,
    sa.Column("hold_id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),  # call | phone | email
    sa.Column("call_id", sa.String(64), nullable=True),
    sa.Column("e164", sa.String(80), nullable=True),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("from_date", sa.Date, nullable=True),
    sa.Column("to_date", sa.Date, nullable=True),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("released_at", UtcDateTime, nullable=True),
    sa.Column("released_by", sa.String(128), nullable=True),
    sa.Column("release_reason", sa.String(500), nullable=True),
    sa.Index("ix_legal_holds_tenant", "tenant_id", "released_at"),
)
