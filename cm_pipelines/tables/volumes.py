"""Daily call volumes per tenant: counts only, recomputed from the live call data."""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import UtcDateTime, metadata

call_day_volumes = sa.Table(
    "call_day_volumes",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("call_day", sa.Date, primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("answered_calls", sa.Integer, nullable=False),
    sa.Column("billed_seconds", sa.BigInteger, nullable=False),
    sa.Column("recordings", sa.Integer, nullable=False),
    sa.Column("recording_bytes", sa.BigInteger, nullable=False),
    sa.Column("transcripts", sa.Integer, nullable=False),
    sa.Column("ai_outputs", sa.Integer, nullable=False),
    sa.Column("crm_links", sa.Integer, nullable=False),
    sa.Column("quarantined_items", sa.Integer, nullable=False),
    sa.Column("computed_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Index("ix_call_day_volumes_call_day", "call_day"),
)
"""One row per tenant and call day that has anything live or quarantined; purged and erased
rows no longer count once the day is recomputed."""
