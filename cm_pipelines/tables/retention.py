"""Retention: legal holds (shared with DSAR erasure), policy versions, artefact states, purge
plans with their items and batches, and tombstones.

A purge plan is the manifest of what is due, stored before anything is deleted; its items
record what happened to each artefact, its batches where a killed run resumes. Tombstones say
that an artefact existed and was purged under which policy version — ids, types and hashes
only, never personal data.
"""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import JsonDocument, UtcDateTime, metadata

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

retention_policy_versions = sa.Table(
    "retention_policy_versions",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("record_type", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("retention_days", sa.Integer, nullable=False),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # config | default | operator
    sa.Column("config_sha256", sa.String(64), nullable=True),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("recorded_by", sa.String(128), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
)

retention_states = sa.Table(
    "retention_states",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("record_type", sa.String(32), primary_key=True),
    sa.Column("artefact_id", sa.String(160), primary_key=True),
    sa.Column("call_id", sa.String(64), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),  # active | due | held | purged
    sa.Column("basis", sa.String(64), nullable=False),
    sa.Column("expiry_basis", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.String(140), nullable=True),
    sa.Column("basis_date", sa.Date, nullable=True),
    sa.Column("expires_on", sa.Date, nullable=True),
    sa.Column("hold_ids", sa.String(500), nullable=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("computed_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Index("ix_retention_states_state", "tenant_id", "state", "expires_on"),
)

purge_plans = sa.Table(
    "purge_plans",
    metadata,
    sa.Column("plan_id", sa.String(40), primary_key=True),
    # planning | planned | refused | approved | executing | completed | completed_with_failures
    # | superseded | abandoned
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("scope_tenant_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_run_id", sa.String(64), nullable=True),
    sa.Column("last_run_id", sa.String(64), nullable=True),
    sa.Column("thresholds", JsonDocument, nullable=False),
    sa.Column("tenant_totals", JsonDocument, nullable=False),  # tenant -> live and planned
    sa.Column("item_count", sa.Integer, nullable=False),
    sa.Column("object_count", sa.Integer, nullable=False),
    sa.Column("batch_count", sa.Integer, nullable=False),
    sa.Column("items_sha256", sa.String(64), nullable=False),
    sa.Column("manifest_path", sa.String(512), nullable=True),
    sa.Column("guard_result", JsonDocument, nullable=True),
    sa.Column("override_reason", sa.String(500), nullable=True),
    sa.Column("override_by", sa.String(128), nullable=True),
    sa.Column("override_at", UtcDateTime, nullable=True),
    sa.Column("proof_path", sa.String(512), nullable=True),
    sa.Column("proof_sha256", sa.String(64), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    # The run working on the plan now, and when it last said so: a second run of an
    # overlapping scope refuses while the claim is fresh (retention.purge.claims).
    sa.Column("claimed_by_run", sa.String(64), nullable=True),
    sa.Column("claim_heartbeat_at", UtcDateTime, nullable=True),
    sa.Index("ix_purge_plans_status", "status"),
)

purge_plan_items = sa.Table(
    "purge_plan_items",
    metadata,
    sa.Column("plan_id", sa.String(40), primary_key=True),
    sa.Column("item_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("batch_no", sa.Integer, nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("record_type", sa.String(32), nullable=False),
    sa.Column("artefact_id", sa.String(160), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=True),
    sa.Column("object_path", sa.String(512), nullable=True),
    sa.Column("object_sha256", sa.String(64), nullable=True),
    sa.Column("policy_version", sa.String(140), nullable=False),
    sa.Column("basis", sa.String(64), nullable=False),
    sa.Column("expires_on", sa.Date, nullable=False),
    # pending | purged | already_gone | withdrawn | failed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("detail", sa.String(64), nullable=True),
    sa.Column("done_at", UtcDateTime, nullable=True),
    sa.Column("done_run_id", sa.String(64), nullable=True),
    # Every read filters by plan and batch (or scans one plan); a status index would only
    # slow the per-batch status updates down.
    sa.Index("ix_purge_plan_items_batch", "plan_id", "batch_no"),
)

purge_batches = sa.Table(
    "purge_batches",
    metadata,
    sa.Column("plan_id", sa.String(40), primary_key=True),
    sa.Column("batch_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("item_count", sa.Integer, nullable=False),
    sa.Column("object_count", sa.Integer, nullable=False),
    sa.Column(
        "status", sa.String(24), nullable=False
    ),  # pending | deleting | done | done_with_failures
    sa.Column("objects_deleted", sa.Integer, nullable=True),
    sa.Column("objects_failed", sa.Integer, nullable=True),
    sa.Column("rows_purged", sa.Integer, nullable=True),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True),
)

retention_tombstones = sa.Table(
    "retention_tombstones",
    metadata,
    sa.Column("tombstone_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("record_type", sa.String(32), nullable=False),
    sa.Column("artefact_id", sa.String(160), nullable=False),
    sa.Column("object_sha256", sa.String(64), nullable=True),
    sa.Column("deleted_at", UtcDateTime, nullable=False),
    sa.Column("policy_version", sa.String(140), nullable=False),
    sa.Column("plan_id", sa.String(40), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    # One tombstone per artefact: the database itself refuses a second deletion.
    sa.UniqueConstraint("tenant_id", "record_type", "artefact_id"),
    sa.Index("ix_retention_tombstones_plan", "plan_id"),
)
