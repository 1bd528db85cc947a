"""Do-not-call data: consents, the tenant's own suppression list, wash results, blocked calls.

Registry snapshot tables are added here by the do-not-call capability. Numbers that must outlive
the subject's other data (suppression, blocked-call evidence) are kept as keyed hashes.
"""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import UtcDateTime, metadata

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("e164", sa.String(80), nullable=True),
    sa.Column("e164_hash", sa.String(80), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # express_consent | transaction | inquiry
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("source", sa.String(120), nullable=True),
    sa.Column("source_file", sa.String(512), nullable=False),
    sa.Column("source_line", sa.Integer, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("restricted_at", UtcDateTime, nullable=True),
    sa.Index("ix_consents_tenant_e164", "tenant_id", "e164"),
    sa.Index("ix_consents_tenant_hash", "tenant_id", "e164_hash"),
)

suppression_entries = sa.Table(
    "suppression_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("e164", sa.String(80), nullable=True),
    sa.Column("e164_hash", sa.String(80), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),  # dsar_objection | operator | do_not_call_request
    sa.Column("dsar_request_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("removed_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("tenant_id", "e164_hash", "source"),
    sa.Index("ix_suppression_tenant_e164", "tenant_id", "e164"),
)

wash_results = sa.Table(
    "wash_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=False),
    sa.Column("e164", sa.String(80), nullable=True),
    sa.Column("e164_hash", sa.String(80), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),  # allowed | blocked
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("registry_id", sa.String(32), nullable=True),
    sa.Column("registry_version", sa.String(80), nullable=True),
    sa.Column("evidence_date", sa.Date, nullable=True),
    sa.Column("valid_until", UtcDateTime, nullable=True),
    sa.Column("calling_window", sa.JSON, nullable=True),
    sa.Column("washed_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("restricted_at", UtcDateTime, nullable=True),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("ix_wash_results_tenant_campaign", "tenant_id", "campaign_id"),
    sa.Index("ix_wash_results_tenant_e164", "tenant_id", "e164"),
)

blocked_calls = sa.Table(
    "blocked_calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=False),
    sa.Column("e164_hash", sa.String(80), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("rule", sa.String(120), nullable=False),
    sa.Column("registry_id", sa.String(32), nullable=True),
    sa.Column("registry_version", sa.String(80), nullable=True),
    sa.Column("evidence_date", sa.Date, nullable=True),
    sa.Column("decided_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("ix_blocked_calls_tenant_hash", "tenant_id", "e164_hash"),
)
