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
    sa.Column(
        "source", sa.String(32), nullable=False
    ),  # dsar_objection | operator | call_disposition | ivr_opt_out | sms_stop | client_list
    sa.Column("dsar_request_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("removed_at", UtcDateTime, nullable=True),
    # intake (0009): when the request was received, the 10-business-day deadline to honour it,
    # the expiry (at least five years), who asked and where it came from (file, event id)
    sa.Column("received_at", UtcDateTime, nullable=True),
    sa.Column("honour_by", UtcDateTime, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("requested_by", sa.String(128), nullable=True),
    sa.Column("source_ref", sa.String(512), nullable=True),
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

registry_versions = sa.Table(
    "registry_versions",
    metadata,
    sa.Column("registry_id", sa.String(32), nullable=False),
    # sha256 of the version: registry id, kind, data day, source file hashes, numbers (+ results)
    sa.Column("version_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # downloadable | wash_only
    sa.Column(
        "status", sa.String(16), nullable=False
    ),  # candidate | active | rejected | superseded
    sa.Column(
        "source_kind", sa.String(32), nullable=False
    ),  # full | changes | full+changes | wash_results
    sa.Column("data_as_of", UtcDateTime, nullable=False),
    sa.Column("number_count", sa.BigInteger, nullable=False),
    sa.Column("registered_count", sa.BigInteger, nullable=True),
    sa.Column("lines_read", sa.BigInteger, nullable=False),
    sa.Column("bad_lines", sa.BigInteger, nullable=False),
    sa.Column("blank_lines", sa.BigInteger, nullable=False),
    sa.Column("duplicate_lines", sa.BigInteger, nullable=False),
    sa.Column("invalid_numbers", sa.BigInteger, nullable=False),
    sa.Column("unreadable_files", sa.Integer, nullable=False),
    sa.Column("change_additions", sa.BigInteger, nullable=False),
    sa.Column("change_deletions", sa.BigInteger, nullable=False),
    sa.Column("previous_version_id", sa.String(64), nullable=True),
    sa.Column("previous_count", sa.BigInteger, nullable=True),
    sa.Column("previous_data_as_of", UtcDateTime, nullable=True),
    sa.Column("added_count", sa.BigInteger, nullable=True),
    sa.Column("removed_count", sa.BigInteger, nullable=True),
    sa.Column("source_files", sa.JSON, nullable=False),  # [{path, sha256, bytes, role}]
    sa.Column("numbers_sha256", sa.String(64), nullable=False),
    sa.Column("parquet_path", sa.String(512), nullable=False),
    sa.Column("parquet_sha256", sa.String(64), nullable=False),
    sa.Column("parquet_bytes", sa.BigInteger, nullable=False),
    sa.Column("check_results", sa.JSON, nullable=True),
    sa.Column("rejection_reason", sa.String(500), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("checked_at", UtcDateTime, nullable=True),
    sa.Column("activated_at", UtcDateTime, nullable=True),
    sa.Column("superseded_at", UtcDateTime, nullable=True),
    sa.Column("rejected_at", UtcDateTime, nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("promoted_run_id", sa.String(64), nullable=True),
    sa.PrimaryKeyConstraint("registry_id", "version_id"),
    sa.Index("ix_registry_versions_registry_status", "registry_id", "status"),
)
"""One row per built registry version; the numbers themselves are in Parquet at ``parquet_path``."""

registry_changes = sa.Table(
    "registry_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("registry_id", sa.String(32), nullable=False),
    sa.Column("version_id", sa.String(64), nullable=False),
    sa.Column("previous_version_id", sa.String(64), nullable=True),
    sa.Column("added_count", sa.BigInteger, nullable=False),
    sa.Column("removed_count", sa.BigInteger, nullable=False),
    sa.Column("changes_path", sa.String(512), nullable=False),  # Parquet: e164, change (+1/-1)
    sa.Column("changes_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.UniqueConstraint("registry_id", "version_id"),
)
"""Additions and removals of a version against the version active when it was built."""

campaign_washes = sa.Table(
    "campaign_washes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=False),
    sa.Column("source_file", sa.String(512), nullable=False),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    sa.Column("washed_at", UtcDateTime, nullable=False),
    sa.Column("numbers", sa.Integer, nullable=False),
    sa.Column("allowed", sa.Integer, nullable=False),
    sa.Column("blocked", sa.Integer, nullable=False),
    sa.Column("restricted_skipped", sa.Integer, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),  # reason -> count
    sa.Column("registry_versions", sa.JSON, nullable=False),  # registry id -> version id
    sa.Column("allowed_export_path", sa.String(512), nullable=True),
    sa.Column("allowed_export_sha256", sa.String(64), nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Index("ix_campaign_washes_tenant_campaign", "tenant_id", "campaign_id"),
)
"""One row per washed campaign list per run: counts, versions used and the allowed export."""

dncr_check_records = sa.Table(
    "dncr_check_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("e164_hash", sa.String(80), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("registry_id", sa.String(64), nullable=True),
    sa.Column("registry_version", sa.String(80), nullable=True),
    sa.Column("evidence_date", sa.Date, nullable=True),
    sa.Column("evidence_age_days", sa.Float, nullable=True),
    sa.Column("rule", sa.String(200), nullable=True),
    sa.Column("valid_until", UtcDateTime, nullable=True),
    sa.Column("checked_at", UtcDateTime, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),  # cli | job
    sa.Column("checked_by", sa.String(128), nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("ix_dncr_check_records_tenant_checked", "tenant_id", "checked_at"),
)
"""Every pre-call check (``cm dncr check``): decision, reason and evidence, number as keyed hash."""

dncr_post_call_violations = sa.Table(
    "dncr_post_call_violations",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("reason", sa.String(32), primary_key=True),
    sa.Column("call_day", sa.Date, nullable=False),
    sa.Column("campaign_id", sa.String(64), nullable=False),
    sa.Column("e164_hash", sa.String(80), nullable=False),
    sa.Column("placed_at", UtcDateTime, nullable=False),
    sa.Column("evidence_source", sa.String(16), nullable=True),  # wash | check | internal_list
    sa.Column("evidence_ref", sa.String(64), nullable=True),
    sa.Column("registry_id", sa.String(64), nullable=True),
    sa.Column("registry_version", sa.String(80), nullable=True),
    sa.Column("valid_until", UtcDateTime, nullable=True),
    sa.Column("audited_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Index("ix_dncr_post_call_violations_tenant_day", "tenant_id", "call_day"),
)
"""Post-call audit findings, one row per call and reason; the callee as keyed hash only."""
