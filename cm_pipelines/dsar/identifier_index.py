"""Keeping the identifier index in step with the artefacts it points at, and reading it.

Every write recomputes the index rows of a scope (a tenant's partition day at ingestion, a few
calls after a redaction) from the artefacts' current text, so running it again ends in the same
rows. Purged and deleted artefacts lose their rows; only live artefacts with text are indexed,
which is what the text scan it replaces could find (a purge wipes the text it leaves behind).
Every query is bound to one tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.dsar.identifier_index import index_entries
from cm_pipelines.domain.dsar.planning import AI_OUTPUTS, TRANSCRIPTS
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables.identifier_index import identifier_index

INDEXED_STORES: dict[str, sa.Table] = {
    TRANSCRIPTS: call_tables.transcripts,
    AI_OUTPUTS: call_tables.ai_outputs,
}
"""Stores whose free text is indexed, by the DSAR store name the index rows carry."""

IN_CHUNK = 1_000
INSERT_BATCH = 50_000
READ_BATCH = 2_000


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield list(values[start : start + IN_CHUNK])


def _sub_kind(table: sa.Table) -> sa.ColumnElement[str]:
    return table.c.kind if "kind" in table.c else sa.literal("")


def _scopes(
    table: sa.Table, tenant_id: str, partition_date: date | None, call_ids: Sequence[str] | None
) -> Iterator[tuple[list[sa.ColumnElement[bool]], list[sa.ColumnElement[bool]]]]:
    """(artefact conditions, index conditions) per chunk of the scope."""
    idx = identifier_index
    artefacts: list[sa.ColumnElement[bool]] = [table.c.tenant_id == tenant_id]
    entries: list[sa.ColumnElement[bool]] = [idx.c.tenant_id == tenant_id]
    if partition_date is not None:
        artefacts.append(table.c.partition_date == partition_date)
        entries.append(idx.c.partition_date == partition_date)
    if call_ids is None:
        yield artefacts, entries
        return
    for chunk in _chunks(sorted(set(call_ids))):
        yield artefacts + [table.c.call_id.in_(chunk)], entries + [idx.c.call_id.in_(chunk)]


def _entry_rows(
    connection: sa.Connection,
    store: str,
    table: sa.Table,
    condition: sa.ColumnElement[bool],
    country: str,
    key: bytes,
) -> Iterator[dict]:
    query = (
        sa.select(
            table.c.tenant_id,
            table.c.call_id,
            _sub_kind(table).label("sub_kind"),
            table.c.partition_date,
            table.c.text,
        )
        .where(condition, table.c.deleted_at.is_(None), table.c.text != "")
        .execution_options(yield_per=READ_BATCH)
    )
    for row in connection.execute(query):
        for entry in index_entries(row.text, country, key):
            yield {
                "tenant_id": row.tenant_id,
                "keyed_hash": entry.keyed_hash,
                "artefact_kind": store,
                "call_id": row.call_id,
                "artefact_sub_kind": row.sub_kind,
                "identifier_kind": entry.identifier_kind,
                "partition_date": row.partition_date,
            }


def _insert(connection: sa.Connection, rows: Iterable[dict]) -> int:
    inserted = 0
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= INSERT_BATCH:
            inserted += bulk_insert(connection, identifier_index, pd.DataFrame(batch))
            batch = []
    if batch:
        inserted += bulk_insert(connection, identifier_index, pd.DataFrame(batch))
    return inserted


def reindex(
    connection: sa.Connection,
    store: str,
    countries: Mapping[str, str],
    key: bytes,
    *,
    partition_date: date | None = None,
    call_ids: Sequence[str] | None = None,
) -> int:
    """Replace the index rows of ``store``'s artefacts in scope (each tenant of ``countries``,
    narrowed to a partition day and/or calls) by those their current text yields; returns the
    rows written. Runs inside the caller's transaction, so rows and index change together."""
    table = INDEXED_STORES[store]
    idx = identifier_index
    written = 0
    for tenant_id, country in sorted(countries.items()):
        for artefacts, entries in _scopes(table, tenant_id, partition_date, call_ids):
            connection.execute(sa.delete(idx).where(*entries, idx.c.artefact_kind == store))
            rows = _entry_rows(connection, store, table, sa.and_(*artefacts), country, key)
            written += _insert(connection, list(rows))
    return written


def drop_entries(
    connection: sa.Connection,
    store: str,
    tenant_id: str,
    artefacts: Iterable[tuple[str, str]],
) -> int:
    """Remove the index rows of purged or deleted artefacts, given as (call_id, sub-kind) with
    sub-kind ``""`` for a transcript; returns the rows removed."""
    idx = identifier_index
    by_kind: dict[str, list[str]] = {}
    for call_id, sub_kind in artefacts:
        by_kind.setdefault(sub_kind, []).append(call_id)
    removed = 0
    for sub_kind, call_ids in sorted(by_kind.items()):
        for chunk in _chunks(sorted(set(call_ids))):
            result = connection.execute(
                sa.delete(idx).where(
                    idx.c.tenant_id == tenant_id,
                    idx.c.artefact_kind == store,
                    idx.c.artefact_sub_kind == sub_kind,
                    idx.c.call_id.in_(chunk),
                )
            )
            removed += result.rowcount or 0
    return removed


def tenant_countries(connection: sa.Connection) -> dict[str, str]:
    """Every tenant and the country its national numbers are read in."""
    tenants = call_tables.tenants
    return {
        row.tenant_id: row.country
        for row in connection.execute(sa.select(tenants.c.tenant_id, tenants.c.country))
    }


def backfill(connection: sa.Connection, key: bytes) -> dict[str, int]:
    """Rebuild the whole index from the artefacts (``cm init`` on existing data; idempotent)."""
    countries = tenant_countries(connection)
    return {store: reindex(connection, store, countries, key) for store in INDEXED_STORES}


def mentioning_select(tenant_id: str, hashes: Sequence[str]) -> sa.CompoundSelect:
    """One statement: the transcripts and AI outputs of the tenant whose text names one of
    ``hashes``, as (store, call_id, kind, partition_date, object_path)."""
    idx = identifier_index
    selects = []
    for store, table in INDEXED_STORES.items():
        hits = (
            sa.select(idx.c.call_id, idx.c.artefact_sub_kind)
            .where(
                idx.c.tenant_id == tenant_id,
                idx.c.artefact_kind == store,
                idx.c.keyed_hash.in_(sorted(hashes)),
            )
            .distinct()
            .subquery()
        )
        sub_kind = _sub_kind(table)
        selects.append(
            sa.select(
                sa.literal(store).label("store"),
                table.c.call_id,
                sub_kind.label("kind"),
                table.c.partition_date,
                table.c.object_path,
            )
            .join_from(table, hits, table.c.call_id == hits.c.call_id)
            .where(table.c.tenant_id == tenant_id, hits.c.artefact_sub_kind == sub_kind)
        )
    return sa.union_all(*selects)


def backfill_if_empty(connection: sa.Connection, key: bytes) -> int | None:
    """Build the index once for a warehouse that had artefacts before it existed (``cm init``
    after an upgrade); ``None`` when it already has rows, which ingestion keeps current."""
    if connection.execute(sa.select(identifier_index.c.tenant_id).limit(1)).first() is not None:
        return None
    return sum(backfill(connection, key).values())
