"""Tenants and the call data ingested from the landing zone (calls and their artefacts)."""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import JsonDocument, UtcDateTime, metadata

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("jurisdictions", JsonDocument, nullable=False),
    sa.Column("registries", JsonDocument, nullable=False),
    sa.Column("retention_days", JsonDocument, nullable=False),
    sa.Column("config_sha256", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("partition_date", sa.Date, nullable=False),
    sa.Column("call_date", sa.Date, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("answered_at", sa.DateTime, nullable=True),
    sa.Column("ended_at", sa.DateTime, nullable=False),
    sa.Column("duration_s", sa.Integer, nullable=False),
    sa.Column("billsec_s", sa.Integer, nullable=False),
    sa.Column("disposition", sa.String(32), nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("src_kind", sa.String(16), nullable=False),
    sa.Column("src_e164", sa.String(80), nullable=True),
    sa.Column("src_extension", sa.String(16), nullable=True),
    sa.Column("dst_kind", sa.String(16), nullable=False),
    sa.Column("dst_e164", sa.String(80), nullable=True),
    sa.Column("dst_extension", sa.String(16), nullable=True),
    sa.Column("caller_name", sa.String(200), nullable=True),
    sa.Column("dcontext", sa.String(80), nullable=True),
    sa.Column("channel", sa.String(120), nullable=True),
    sa.Column("dstchannel", sa.String(120), nullable=True),
    sa.Column("lastapp", sa.String(40), nullable=True),
    sa.Column("userfield", sa.String(255), nullable=True),
    sa.Column("campaign_id", sa.String(64), nullable=True),
    sa.Column("crm_ref", sa.String(128), nullable=True),
    sa.Column("source_file", sa.String(512), nullable=False),
    sa.Column("source_line", sa.Integer, nullable=False),
    sa.Column("restricted_at", UtcDateTime, nullable=True),
    sa.Column("erased_at", UtcDateTime, nullable=True),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("ingested_run_id", sa.String(64), nullable=True),
    sa.Index("ix_calls_partition", "partition_date", "tenant_id"),
    sa.Index("ix_calls_src", "tenant_id", "src_e164"),
    sa.Index("ix_calls_dst", "tenant_id", "dst_e164"),
)

recordings = sa.Table(
    "recordings",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("partition_date", sa.Date, nullable=False),
    sa.Column("object_path", sa.String(512), nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("sample_rate", sa.Integer, nullable=False),
    sa.Column("channels", sa.Integer, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("ix_recordings_partition", "partition_date", "tenant_id"),
)

transcripts = sa.Table(
    "transcripts",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("partition_date", sa.Date, nullable=False),
    sa.Column("object_path", sa.String(512), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("segments", JsonDocument, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("ix_transcripts_partition", "partition_date", "tenant_id"),
)

ai_outputs = sa.Table(
    "ai_outputs",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("partition_date", sa.Date, nullable=False),
    sa.Column("object_path", sa.String(512), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("model", sa.String(120), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Index("ix_ai_outputs_partition", "partition_date", "tenant_id"),
)

crm_links = sa.Table(
    "crm_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=False),
    sa.Column("partition_date", sa.Date, nullable=False),
    sa.Column("crm_system", sa.String(64), nullable=False),
    sa.Column("crm_record_id", sa.String(128), nullable=False),
    sa.Column("contact_e164", sa.String(80), nullable=True),
    sa.Column("contact_email", sa.String(254), nullable=True),
    sa.Column("source_file", sa.String(512), nullable=False),
    sa.Column("source_line", sa.Integer, nullable=False),
    sa.Column("restricted_at", UtcDateTime, nullable=True),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("tenant_id", "call_id", "crm_system", "crm_record_id"),
    sa.Index("ix_crm_links_partition", "partition_date", "tenant_id"),
    sa.Index("ix_crm_links_phone", "tenant_id", "contact_e164"),
    sa.Index("ix_crm_links_email", "tenant_id", "contact_email"),
    sa.Index("ix_crm_links_record", "tenant_id", "crm_record_id"),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("asset", sa.String(64), nullable=False),
    sa.Column("partition_key", sa.String(64), nullable=True),
    sa.Column("tenant_id", sa.String(64), nullable=True),
    sa.Column("source_file", sa.String(512), nullable=False),
    sa.Column("source_line", sa.Integer, nullable=True),
    sa.Column("reason_code", sa.String(64), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Column("raw_record", sa.Text, nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # set by a retention purge, which also wipes raw_record (column added by 0003_retention)
    sa.Column("purged_at", UtcDateTime, nullable=True),
    sa.Index("ix_quarantine_asset_partition", "asset", "partition_key"),
)
