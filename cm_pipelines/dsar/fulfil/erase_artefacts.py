"""Erasure of call artefacts (recordings, transcripts, AI outputs): deleted with their objects,
or, where the subject is only named in someone else's call, redacted in row and object."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.export_package import sha256_hex
from cm_pipelines.domain.dsar.planning import PlannedAction, Subject
from cm_pipelines.domain.dsar.redaction import (
    NameMatcher,
    redact_subject_document,
    redact_subject_text,
)
from cm_pipelines.dsar.erasure_ledger import load_erased_subjects
from cm_pipelines.dsar.fulfil import plan_items
from cm_pipelines.dsar.fulfil.context import FulfilmentContext, FulfilmentError
from cm_pipelines.dsar.fulfil.object_versions import drop_noncurrent_versions
from cm_pipelines.dsar.fulfil.tenant_rows import artefact_key_in, chunks
from cm_pipelines.dsar.identifier_index import INDEXED_STORES, reindex
from cm_pipelines.resources.object_purge import purge_objects
from cm_pipelines.tables import calls as call_tables

ARTEFACT_TABLES: dict[str, sa.Table] = {
    planning.RECORDINGS: call_tables.recordings,
    planning.TRANSCRIPTS: call_tables.transcripts,
    planning.AI_OUTPUTS: call_tables.ai_outputs,
}


def erase_artefacts(
    fulfilment: FulfilmentContext, store_name: str, actions: list[PlannedAction]
) -> dict[str, int]:
    table = ARTEFACT_TABLES[store_name]
    deletions = [a for a in actions if a.action == planning.DELETE]
    redactions = [a for a in actions if a.action == planning.REDACT]
    counts = {"deleted": 0, "redacted": 0, "mentions_masked": 0}
    if deletions:
        _delete_artefacts(fulfilment, store_name, table, deletions)
        counts["deleted"] = len(deletions)
    for action in redactions:
        counts["mentions_masked"] += _redact_artefact(fulfilment, table, action)
        counts["redacted"] += 1
    return counts


def _delete_artefacts(
    fulfilment: FulfilmentContext,
    store_name: str,
    table: sa.Table,
    deletions: list[PlannedAction],
) -> None:
    """Objects first (confirmed gone), then their rows and the executed mark together."""
    paths = [a.details["object_path"] for a in deletions if a.details.get("object_path")]
    outcome = purge_objects(fulfilment.object_store, paths)
    if outcome.failed:
        raise FulfilmentError(
            f"{len(outcome.failed)} {store_name} object(s) could not be deleted "
            f"({', '.join(sorted(set(outcome.failed.values())))}); re-run to retry"
        )
    with fulfilment.warehouse.begin() as connection:
        for chunk in chunks(deletions):
            connection.execute(
                sa.delete(table).where(
                    table.c.tenant_id == fulfilment.tenant.id, artefact_key_in(table, chunk)
                )
            )
        _reindex(fulfilment, connection, store_name, deletions)
        plan_items.mark_executed(fulfilment, connection, deletions)


def _redact_artefact(fulfilment: FulfilmentContext, table: sa.Table, action: PlannedAction) -> int:
    """Mask the subject in one artefact's row and object; returns how many mentions were
    masked. Redacting a redacted text changes nothing, so a re-run is harmless."""
    subject = fulfilment.subject()
    with fulfilment.warehouse.connect() as connection:
        names = load_erased_subjects(
            connection, fulfilment.tenant.id, fulfilment.hash_key
        ).name_matches
        row = (
            connection.execute(
                sa.select(table).where(
                    table.c.tenant_id == fulfilment.tenant.id, artefact_key_in(table, [action])
                )
            )
            .mappings()
            .first()
        )
    masked = 0
    values: dict[str, Any] = {}
    if row is not None:
        values, masked = _redacted_columns(fulfilment, table, row, subject, names)
        sha256 = _redact_object(fulfilment, row["object_path"], subject, names)
        if sha256 is not None:
            values["sha256"] = sha256
    with fulfilment.warehouse.begin() as connection:
        if values:
            connection.execute(
                sa.update(table)
                .where(table.c.tenant_id == fulfilment.tenant.id, artefact_key_in(table, [action]))
                .values(**values)
            )
        _reindex(fulfilment, connection, action.store, [action])
        plan_items.mark_executed(fulfilment, connection, [action])
    return masked


def _reindex(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    store_name: str,
    actions: list[PlannedAction],
) -> None:
    """The identifier index of the erased artefacts' calls recomputed from what is left (a
    deleted artefact has no rows, a redacted one no longer names the subject), in the same
    transaction as the change."""
    if store_name not in INDEXED_STORES:
        return
    call_ids = sorted({a.ref.split("/", 1)[0] for a in actions})
    reindex(
        connection,
        store_name,
        {fulfilment.tenant.id: fulfilment.tenant.country},
        fulfilment.hash_key,
        call_ids=call_ids,
    )


def _redacted_columns(
    fulfilment: FulfilmentContext,
    table: sa.Table,
    row: Any,
    subject: Subject,
    names: NameMatcher,
) -> tuple[dict[str, Any], int]:
    """The row's text (and transcript segments) without the subject, and mentions masked."""
    country = fulfilment.tenant.country
    text, masked = redact_subject_text(
        row["text"] or "", country, subject.phones, subject.emails, names
    )
    values: dict[str, Any] = {"text": text}
    if "segments" in table.c:
        segments = []
        for segment in row["segments"] or []:
            redacted, _ = redact_subject_text(
                str(segment.get("text") or ""), country, subject.phones, subject.emails, names
            )
            segments.append({**segment, "text": redacted})
        values["segments"] = segments
    return values, masked


def _redact_object(
    fulfilment: FulfilmentContext, path: str, subject: Subject, names: NameMatcher
) -> str | None:
    """Rewrite the artefact's JSON document without the subject and drop its old versions;
    returns the new object's hash, or None when the object is already gone."""
    object_store = fulfilment.object_store
    if not object_store.exists(path):
        return None
    document = json.loads(object_store.read_bytes(path))
    redacted_document, _ = redact_subject_document(
        document, fulfilment.tenant.country, subject.phones, subject.emails, names
    )
    data = json.dumps(redacted_document, indent=2, ensure_ascii=False).encode("utf-8")
    object_store.write_bytes(path, data)
    drop_noncurrent_versions(object_store, path)
    return sha256_hex(data)
