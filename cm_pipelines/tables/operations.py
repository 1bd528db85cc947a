"""Operations: approvals of destructive actions by a second person (four eyes).

A row is asked for by one identity and decided by another; what it unlocks (an erasure above
the threshold, a circuit-breaker override, a hold release) runs only once it is approved, and
the run that used it is recorded. Reasons are kept here (like a hold's reason); the audit log
carries only their hash.
"""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import JsonDocument, UtcDateTime, metadata

operation_approvals = sa.Table(
    "operation_approvals",
    metadata,
    sa.Column("approval_id", sa.String(40), primary_key=True),
    sa.Column("action", sa.String(32), nullable=False),  # erasure | breaker_override | hold_release
    sa.Column("target", sa.String(80), nullable=False),  # request id, hold id, purge scope
    sa.Column("tenant_id", sa.String(64), nullable=True),
    # pending -> approved -> completed, or pending -> rejected / lapsed
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("details", JsonDocument, nullable=False),  # counts and settings, no personal data
    sa.Column("requested_by", sa.String(128), nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("decided_by", sa.String(128), nullable=True),
    sa.Column("decided_at", UtcDateTime, nullable=True),
    sa.Column("decision_reason", sa.String(500), nullable=True),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.Column("completed_run_id", sa.String(64), nullable=True),
    sa.Index("ix_operation_approvals_target", "action", "target", "state"),
)
