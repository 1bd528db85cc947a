"""Data-subject requests. ``restrictions`` is read by every step that must skip a restricted
subject (CRM sync, wash exports, analytics), so it is keyed by identifier hashes, not values."""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import UtcDateTime, metadata

restrictions = sa.Table(
    "restrictions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("identifier_hash", sa.String(80), nullable=False),  # keyed hash of e164 or email
    sa.Column("identifier_kind", sa.String(16), nullable=False),  # phone | email | crm_id
    sa.Column("dsar_request_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("lifted_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("tenant_id", "identifier_hash", "dsar_request_id"),
    sa.Index("ix_restrictions_tenant_hash", "tenant_id", "identifier_hash"),
)
