"""Marking purged rows, per record type: ``deleted_at`` set and personal columns wiped; a
quarantined line's raw record wiped and ``purged_at`` set; a closed DSAR case file's identifiers
and free text wiped; a landing file has no row, its tombstone is its mark. Only live rows are
marked, so a batch run again never touches a row twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.dsar.planning import AI_OUTPUTS, TRANSCRIPTS
from cm_pipelines.domain.retention.artefact_types import SOURCE_FILE_TYPES
from cm_pipelines.dsar.identifier_index import drop_entries
from cm_pipelines.retention.inventory.frames import fetch_frame
from cm_pipelines.retention.inventory.quarantine_records import quarantine_artefact_ids
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables import dsar as dsar_tables
from cm_pipelines.tables.retention import retention_tombstones

_CALL_WIPE: dict[str, Any] = {
    "src_e164": None,
    "src_extension": None,
    "dst_e164": None,
    "dst_extension": None,
    "caller_name": None,
    "channel": None,
    "dstchannel": None,
    "userfield": None,
    "crm_ref": None,
}
"""Personal columns of a call row; what stays (times, duration, disposition) is not personal."""

ROW_TARGETS: dict[str, tuple[sa.Table, str, dict[str, Any]]] = {
    "call_logs": (call_tables.calls, "call", _CALL_WIPE),
    "recordings": (call_tables.recordings, "call", {}),
    "transcripts": (call_tables.transcripts, "call", {"text": "", "segments": []}),
    "ai_summaries": (call_tables.ai_outputs, "ai", {"text": ""}),
    # crm_record_id stays: it is part of the ingestion key that stops a re-run resurrecting a
    # purged link, and it only means something inside the tenant's own CRM.
    "crm_links": (call_tables.crm_links, "id", {"contact_e164": None, "contact_email": None}),
    "wash_results": (dncr_tables.wash_results, "id", {"e164": None, "e164_hash": ""}),
    "blocked_calls": (dncr_tables.blocked_calls, "id", {"e164_hash": ""}),
    "dncr_check_records": (dncr_tables.dncr_check_records, "id", {"e164_hash": ""}),
}
"""Artefact type -> (table, key kind, personal columns and the values that wipe them)."""


def mark_rows(
    connection: sa.Connection, record_type: str, items: pd.DataFrame, now: datetime
) -> set[str]:
    """Mark the live rows of ``items`` purged and wipe them; returns the artefact ids marked."""
    if record_type == "dsar_case_files":
        return _mark_case_files(connection, items, now)
    if record_type == "quarantine_records":
        return _mark_quarantine(connection, items, now)
    if record_type in SOURCE_FILE_TYPES:
        return _not_yet_tombstoned(connection, record_type, items)
    table, key_kind, wipe = ROW_TARGETS[record_type]
    marked: set[str] = set()
    _drop_index_entries(connection, record_type, items)
    for tenant_id, group in items.groupby("tenant_id"):
        live = sa.and_(table.c.tenant_id == tenant_id, table.c.deleted_at.is_(None))
        if key_kind == "call":
            ids = group["artefact_id"].astype(str).tolist()
            statement = (
                sa.update(table)
                .where(live, table.c.call_id.in_(ids))
                .values(deleted_at=now, **wipe)
                .returning(table.c.call_id)
            )
            marked.update(str(row[0]) for row in connection.execute(statement))
        elif key_kind == "ai":
            parts = group["artefact_id"].astype(str).str.split("#", n=1, expand=True)
            for kind, kind_group in parts.groupby(1):
                statement = (
                    sa.update(table)
                    .where(live, table.c.kind == kind, table.c.call_id.in_(kind_group[0].tolist()))
                    .values(deleted_at=now, **wipe)
                    .returning(table.c.call_id)
                )
                marked.update(f"{row[0]}#{kind}" for row in connection.execute(statement))
        else:
            ids = [int(value) for value in group["artefact_id"]]
            statement = (
                sa.update(table)
                .where(live, table.c.id.in_(ids))
                .values(deleted_at=now, **wipe)
                .returning(table.c.id)
            )
            marked.update(str(row[0]) for row in connection.execute(statement))
    return marked


_INDEXED_TYPES = {"transcripts": TRANSCRIPTS, "ai_summaries": AI_OUTPUTS}
"""Artefact types whose text the identifier index points into, and the index's store name."""


def _drop_index_entries(connection: sa.Connection, record_type: str, items: pd.DataFrame) -> None:
    """A purged text names no one any more: its identifier index rows go in the same
    transaction (an artefact id is ``call_id``, or ``call_id#kind`` for an AI output)."""
    store = _INDEXED_TYPES.get(record_type)
    if store is None or items.empty:
        return
    for tenant_id, group in items.groupby("tenant_id"):
        artefacts = []
        for artefact_id in group["artefact_id"].astype(str):
            call_id, _, kind = artefact_id.partition("#")
            artefacts.append((call_id, kind))
        drop_entries(connection, store, str(tenant_id), artefacts)


def _not_yet_tombstoned(
    connection: sa.Connection, record_type: str, items: pd.DataFrame
) -> set[str]:
    """A landing file has no row to mark: its tombstone is its mark."""
    t = retention_tombstones
    fresh: set[str] = set()
    for tenant_id, group in items.groupby("tenant_id"):
        ids = group["artefact_id"].astype(str).tolist()
        tombstoned = {
            str(row[0])
            for row in connection.execute(
                sa.select(t.c.artefact_id).where(
                    t.c.tenant_id == tenant_id,
                    t.c.record_type == record_type,
                    t.c.artefact_id.in_(ids),
                )
            )
        }
        fresh.update(set(ids) - tombstoned)
    return fresh


def _mark_quarantine(connection: sa.Connection, items: pd.DataFrame, now: datetime) -> set[str]:
    """Wipe quarantined lines' raw records and mark them; a row whose id now names a newer
    line (re-ingested since planning) is left alone."""
    q = call_tables.quarantine
    marked: set[str] = set()
    for tenant_id, group in items.groupby("tenant_id"):
        wanted = set(group["artefact_id"].astype(str))
        ids = sorted({int(value.split("@", 1)[0]) for value in wanted})
        rows = fetch_frame(
            connection,
            sa.select(q.c.id, q.c.created_at).where(
                q.c.tenant_id == tenant_id, q.c.id.in_(ids), q.c.purged_at.is_(None)
            ),
            ["id", "created_at"],
        )
        if rows.empty:
            continue
        current = quarantine_artefact_ids(rows["id"], rows["created_at"])
        matching = current.isin(wanted).to_numpy()
        by_id = dict(zip(rows["id"].astype(int), current, strict=True))
        statement = (
            sa.update(q)
            .where(
                q.c.tenant_id == tenant_id,
                q.c.id.in_([int(value) for value in rows.loc[matching, "id"]]),
                q.c.purged_at.is_(None),
            )
            .values(raw_record=None, purged_at=now)
            .returning(q.c.id)
        )
        if matching.any():
            marked.update(by_id[int(row[0])] for row in connection.execute(statement))
    return marked


def _mark_case_files(connection: sa.Connection, items: pd.DataFrame, now: datetime) -> set[str]:
    """Closed DSAR case files: wipe the request's identifiers and free text, its certificate
    body and outbox references; mark left-over exports deleted."""
    tombstoned = {
        row[0]
        for row in connection.execute(
            sa.select(retention_tombstones.c.artefact_id).where(
                retention_tombstones.c.record_type == "dsar_case_files",
                retention_tombstones.c.artefact_id.in_(items["artefact_id"].astype(str).tolist()),
            )
        )
    }
    ids = [value for value in items["artefact_id"].astype(str) if value not in tombstoned]
    request_ids = [value.split(":", 1)[1] for value in ids if value.startswith("request:")]
    export_ids = [int(value.split(":", 1)[1]) for value in ids if value.startswith("export:")]
    marked: set[str] = set()
    if request_ids:
        requests_t = dsar_tables.dsar_requests
        statement = (
            sa.update(requests_t)
            .where(requests_t.c.request_id.in_(request_ids))
            .values(
                identifiers=[],
                identifier_hashes=[],
                rectification=None,
                extension_reason=None,
                refusal_reason=None,
                lift_reason=None,
                result_path=None,
                updated_at=now,
            )
            .returning(requests_t.c.request_id)
        )
        marked.update(f"request:{row[0]}" for row in connection.execute(statement))
        certificates = dsar_tables.dsar_certificates
        connection.execute(
            sa.update(certificates)
            .where(certificates.c.request_id.in_(request_ids))
            .values(body={})
        )
        outbox = dsar_tables.dsar_erasure_outbox
        connection.execute(
            sa.update(outbox).where(outbox.c.request_id.in_(request_ids)).values(record_refs=[])
        )
    if export_ids:
        exports = dsar_tables.dsar_exports
        statement = (
            sa.update(exports)
            .where(exports.c.id.in_(export_ids), exports.c.deleted_at.is_(None))
            .values(deleted_at=now)
            .returning(exports.c.id)
        )
        marked.update(f"export:{row[0]}" for row in connection.execute(statement))
    return marked
