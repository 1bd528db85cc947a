"""The identifier index: keyed hashes of the phone numbers and emails found in the free text of
call artefacts (transcripts, AI outputs), each pointing at the artefact that names it.

A DSAR locate looks a subject's hashes up here (a B-tree range on ``(tenant_id, keyed_hash)``)
instead of reading every text of the tenant. Only keyed hashes are stored, never raw values, and
the rows follow their artefact: replaced with its partition at ingestion, removed when it is
purged or erased, recomputed when it is redacted.
"""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.tables.base import metadata

identifier_index = sa.Table(
    "identifier_index",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("keyed_hash", sa.String(80), primary_key=True),
    sa.Column("artefact_kind", sa.String(32), primary_key=True),
    sa.Column("call_id", sa.String(64), primary_key=True),
    # the AI output's kind (summary, receptionist_note, ...); "" for a transcript
    sa.Column("artefact_sub_kind", sa.String(32), primary_key=True),
    sa.Column("identifier_kind", sa.String(16), nullable=False),
    sa.Column("partition_date", sa.Date, nullable=False),
    sa.Index("ix_identifier_index_artefact", "tenant_id", "artefact_kind", "call_id"),
    sa.Index("ix_identifier_index_partition", "partition_date", "tenant_id"),
)
