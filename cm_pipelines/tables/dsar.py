"""Data-subject requests: the requests, their step log, per-store results, erasure plan and
outbox, export records and certificates.

``restrictions`` is read by every step that must skip a restricted subject (CRM sync, wash
exports, analytics), so it is keyed by identifier hashes, not values. Export records hold the
package's path and hash, never its key.
"""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import JsonDocument, UtcDateTime, metadata

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

dsar_requests = sa.Table(
    "dsar_requests",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("request_type", sa.String(32), nullable=False),
    sa.Column("jurisdiction", sa.String(8), nullable=False),
    # Raw identifiers are kept only while the request is processed; an erasure replaces them
    # by their keyed hashes when it completes.
    sa.Column("identifiers", JsonDocument, nullable=False),
    sa.Column("identifier_hashes", JsonDocument, nullable=False),
    sa.Column("rectification", JsonDocument, nullable=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("extended_due_date", sa.Date, nullable=True),
    sa.Column("extension_reason", sa.String(500), nullable=True),
    sa.Column("extended_at", UtcDateTime, nullable=True),
    sa.Column("extended_by", sa.String(128), nullable=True),
    sa.Column("ack_due_date", sa.Date, nullable=True),
    sa.Column(
        "state", sa.String(16), nullable=False
    ),  # pending|verified|in_progress|awaiting_review|completed|refused
    sa.Column("verification_method", sa.String(64), nullable=True),
    sa.Column("verified_by", sa.String(128), nullable=True),
    sa.Column("verified_at", UtcDateTime, nullable=True),
    sa.Column("refusal_reason", sa.String(500), nullable=True),  # the operator's note
    sa.Column("refusal_code", sa.String(32), nullable=True),  # domain.dsar.operator codes
    sa.Column("refused_at", UtcDateTime, nullable=True),
    sa.Column("refused_by", sa.String(128), nullable=True),
    # CCPA: receipt acknowledged within 10 business days (tenant-local day it was sent)
    sa.Column("acknowledged_on", sa.Date, nullable=True),
    sa.Column("acknowledged_at", UtcDateTime, nullable=True),
    sa.Column("acknowledged_by", sa.String(128), nullable=True),
    sa.Column("restriction_lifted_at", UtcDateTime, nullable=True),
    sa.Column("restriction_lifted_by", sa.String(128), nullable=True),
    sa.Column("lift_reason", sa.String(500), nullable=True),
    sa.Column("submitted_by", sa.String(128), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.Column("identifiers_erased_at", UtcDateTime, nullable=True),
    sa.Column("last_run_id", sa.String(64), nullable=True),
    sa.Column("result_path", sa.String(512), nullable=True),
    sa.Index("ix_dsar_requests_state", "state", "tenant_id"),
)

dsar_steps = sa.Table(
    "dsar_steps",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("step", sa.String(64), primary_key=True),
    sa.Column("completed_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("details", JsonDocument, nullable=False),
)

dsar_store_results = sa.Table(
    "dsar_store_results",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("phase", sa.String(16), primary_key=True),  # locate | execute | verify
    sa.Column("store", sa.String(32), primary_key=True),
    sa.Column("found", sa.Integer, nullable=False),
    sa.Column("acted", sa.Integer, nullable=False),
    sa.Column("exempted", sa.Integer, nullable=False),
    sa.Column("details", JsonDocument, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
)

dsar_plan_items = sa.Table(
    "dsar_plan_items",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("store", sa.String(32), primary_key=True),
    sa.Column("item_ref", sa.String(512), primary_key=True),  # call id, row id or object path
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(24), nullable=False),
    sa.Column("basis", sa.String(300), nullable=True),  # set when the item is exempted
    sa.Column("call_id", sa.String(64), nullable=True),
    # What execution needs after the source rows changed: object paths, keyed hashes of the
    # subject's numbers on a call, the downstream recipient. Never a raw identifier.
    sa.Column("details", JsonDocument, nullable=False),
    sa.Column("executed_at", UtcDateTime, nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True),
)

dsar_erasure_outbox = sa.Table(
    "dsar_erasure_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(64), nullable=False),  # downstream system, e.g. a CRM
    sa.Column("task", sa.String(16), nullable=False),  # erase | rectify | restrict
    sa.Column("record_refs", JsonDocument, nullable=False),  # the recipient's record ids
    # pending | sent | confirmed | dead_letter | withdrawn (crm_delivery moves them)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("confirmed_at", UtcDateTime, nullable=True),
    # Delivery attempts (crm_delivery): counts, times, status codes; never a value sent.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=True),
    sa.Column("last_attempt_at", UtcDateTime, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_outcome", sa.String(64), nullable=True),  # decision reason, e.g. http_503
    sa.Column("idempotency_key", sa.String(64), nullable=True),
    sa.Column("connector", sa.String(16), nullable=True),  # hubspot | webhook
    sa.Column("dead_lettered_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("request_id", "recipient"),
    sa.Index("ix_dsar_erasure_outbox_status", "status", "tenant_id"),
)

dsar_exports = sa.Table(
    "dsar_exports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("object_path", sa.String(512), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),  # of the encrypted package
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("manifest_sha256", sa.String(64), nullable=False),
    sa.Column("encryption", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Index("ix_dsar_exports_request", "request_id"),
    sa.Index("ix_dsar_exports_expiry", "expires_at", "deleted_at"),
)

dsar_certificates = sa.Table(
    "dsar_certificates",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("object_path", sa.String(512), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("body", JsonDocument, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
)

dsar_erased_subjects = sa.Table(
    "dsar_erased_subjects",
    metadata,
    # The erasure ledger: who was erased, as keyed hashes only, so that every ingestion path can
    # recognise the subject's data arriving again (a re-sent file, a replay, a backfill) and
    # treat it as the erasure did. ``name_words`` is the word count of a hashed name, which lets
    # a scan hash only windows of that length; it is a count, not the name.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("identifier_kind", sa.String(16), nullable=False),  # phone | email | crm_id | name
    sa.Column("identifier_hash", sa.String(80), nullable=False),
    sa.Column("name_words", sa.Integer, nullable=True),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("erased_on", sa.Date, nullable=False),  # UTC date of the erasure
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "identifier_kind", "identifier_hash"),
    sa.Index("ix_dsar_erased_subjects_tenant", "tenant_id"),
)
