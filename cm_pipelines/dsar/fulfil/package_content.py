"""What goes into an access or portability package: every planned record, masked for the other
data subjects of each call (the other party's number, someone else's words in a transcript)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.export_package import (
    NameScope,
    PackageContent,
    PackageFile,
    mask_call_row,
    mask_segments,
    mask_text,
    sha256_hex,
)
from cm_pipelines.domain.dsar.planning import PlannedAction, Subject
from cm_pipelines.domain.dsar.redaction import subject_matches
from cm_pipelines.dsar.fulfil import plan_items
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.tenant_rows import artefact_key_in, chunks, rows_by_ref
from cm_pipelines.dsar.request_records import RequestRecord
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables.dsar import restrictions

EXPORT_COLUMNS: dict[str, tuple[sa.Table, tuple[str, ...]]] = {
    planning.CRM_LINKS: (
        call_tables.crm_links,
        (
            "call_id",
            "crm_system",
            "crm_record_id",
            "contact_e164",
            "contact_email",
            "restricted_at",
        ),
    ),
    planning.CONSENTS: (
        dncr_tables.consents,
        ("e164", "kind", "recorded_at", "expires_at", "source", "revoked_at", "restricted_at"),
    ),
    planning.WASH_RESULTS: (
        dncr_tables.wash_results,
        ("campaign_id", "e164", "decision", "reason", "registry_id", "registry_version")
        + ("evidence_date", "washed_at"),
    ),
    planning.BLOCKED_CALLS: (
        dncr_tables.blocked_calls,
        ("campaign_id", "reason", "rule", "registry_id", "registry_version", "evidence_date")
        + ("decided_at",),
    ),
    planning.SUPPRESSION: (
        dncr_tables.suppression_entries,
        ("e164", "source", "created_at", "removed_at"),
    ),
    planning.RESTRICTIONS: (restrictions, ("identifier_kind", "created_at", "lifted_at")),
}
"""Columns exported for the simple categories (raw numbers here are the subject's own)."""


def package_content(fulfilment: FulfilmentContext, record: RequestRecord) -> PackageContent:
    """Every exported record, masked for the other data subjects of each call."""
    subject = fulfilment.subject(record)
    content = PackageContent(
        request_id=fulfilment.request_id,
        tenant_id=fulfilment.tenant.id,
        request_type=record.request_type,
        generated_at=fulfilment.clock(),
    )
    with fulfilment.warehouse.connect() as connection:
        by_store: dict[str, list[PlannedAction]] = defaultdict(list)
        for action in plan_items.load_plan(fulfilment, connection):
            if action.action == planning.EXPORT:
                by_store[action.store].append(action)
        calls = _subject_calls(fulfilment, connection, by_store, subject)
        if planning.CALLS in by_store:
            content.categories[planning.CALLS] = [mask_call_row(row, mine) for row, mine in calls]
        call_numbers = {row["call_id"]: mine for row, mine in calls}
        content.names = _name_scope(fulfilment.tenant.name, calls)
        _export_recordings(fulfilment, connection, by_store, content)
        _export_transcripts(fulfilment, connection, by_store, subject, call_numbers, content)
        _export_ai_outputs(fulfilment, connection, by_store, subject, call_numbers, content)
        for name, (table, columns) in EXPORT_COLUMNS.items():
            if name in by_store:
                ids = sorted(int(a.ref) for a in by_store[name])
                found = rows_by_ref(fulfilment, connection, table, table.c.id, ids)
                content.categories[name] = [
                    {column: row.get(column) for column in columns}
                    for row in sorted(found, key=lambda r: r["id"])
                ]
    return content


def _subject_numbers(
    fulfilment: FulfilmentContext, row: Mapping[str, Any], hashes: Iterable[str]
) -> frozenset[str]:
    wanted = set(hashes)
    return frozenset(
        value
        for value in (row.get("src_e164"), row.get("dst_e164"))
        if value and fulfilment.hash_number(value) in wanted
    )


def _subject_calls(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    by_store: Mapping[str, list[PlannedAction]],
    subject: Subject,
) -> list[tuple[Mapping[str, Any], frozenset[str]]]:
    """The subject's call rows, oldest first, each with the subject's numbers on it: read once,
    for the exported call rows (other party masked) and for whose names are whose."""
    if planning.CALLS not in by_store:
        return []
    hashes = {a.ref: a.details.get("subject_number_hashes", []) for a in by_store[planning.CALLS]}
    calls = call_tables.calls
    found = rows_by_ref(fulfilment, connection, calls, calls.c.call_id, sorted(hashes))
    return [
        (row, _subject_numbers(fulfilment, row, hashes[row["call_id"]]) | subject.phones)
        for row in sorted(found, key=lambda r: (r["started_at"], r["call_id"]))
    ]


def _name_scope(
    controller: str, calls: Iterable[tuple[Mapping[str, Any], frozenset[str]]]
) -> NameScope:
    """Names to keep and to mask, from the caller-ID names of the subject's calls: the name on a
    call the subject placed is theirs; on any other call it is the other party's. The
    controller's own name ("thanks for calling Harbour Dental Group") is no third party's."""
    own: set[str] = set()
    others: set[str] = set()
    for row, mine in calls:
        name = str(row.get("caller_name") or "").strip()
        if name:
            (own if row.get("src_e164") in mine else others).add(name)
    return NameScope(known=frozenset(others - own), subject=frozenset(own | {controller}))


def _export_recordings(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    by_store: Mapping[str, list[PlannedAction]],
    content: PackageContent,
) -> None:
    if planning.RECORDINGS not in by_store:
        return
    recordings = call_tables.recordings
    refs = sorted(a.ref for a in by_store[planning.RECORDINGS])
    exported = []
    for row in sorted(
        rows_by_ref(fulfilment, connection, recordings, recordings.c.call_id, refs),
        key=lambda r: r["call_id"],
    ):
        member = f"recordings/{row['call_id']}.wav"
        data = fulfilment.object_store.read_bytes(row["object_path"])
        content.files.append(PackageFile(member, data))
        exported.append(
            {
                "call_id": row["call_id"],
                "file": member,
                "duration_s": row["duration_s"],
                "sample_rate": row["sample_rate"],
                "channels": row["channels"],
                "sha256": sha256_hex(data),
            }
        )
    content.categories[planning.RECORDINGS] = exported


def _export_transcripts(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    by_store: Mapping[str, list[PlannedAction]],
    subject: Subject,
    call_numbers: Mapping[str, frozenset[str]],
    content: PackageContent,
) -> None:
    """The subject's calls in full (masked); someone else's call only where it names them."""
    if planning.TRANSCRIPTS not in by_store:
        return
    actions = by_store[planning.TRANSCRIPTS]
    other_calls = {a.ref for a in actions if a.details.get("match") == planning.MATCH_TEXT}
    transcripts = call_tables.transcripts
    country = fulfilment.tenant.country
    exported = []
    for row in sorted(
        rows_by_ref(
            fulfilment,
            connection,
            transcripts,
            transcripts.c.call_id,
            sorted(a.ref for a in actions),
        ),
        key=lambda r: r["call_id"],
    ):
        mine = call_numbers.get(row["call_id"], subject.phones)
        originals = row["segments"] or []
        where = f"transcripts/{row['call_id']}"
        segments = mask_segments(originals, country, mine, subject.emails, content.names, where)
        other_call = row["call_id"] in other_calls
        if other_call:
            segments = [
                masked
                for masked, original in zip(segments, originals, strict=True)
                if _names_subject(str(original.get("text") or ""), country, subject)
            ]
            text = " ".join(str(s.get("text") or "").strip() for s in segments)
        else:
            text = mask_text(
                row["text"] or "", country, mine, subject.emails, content.names, f"{where}.txt"
            )
        member = f"transcripts/{row['call_id']}.txt"
        content.files.append(PackageFile(member, text.encode("utf-8")))
        exported.append(
            {
                "call_id": row["call_id"],
                "your_call": not other_call,
                "format": row["format"],
                "language": row["language"],
                "file": member,
                "text": text,
                "segments": segments,
            }
        )
    content.categories[planning.TRANSCRIPTS] = exported


def _export_ai_outputs(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    by_store: Mapping[str, list[PlannedAction]],
    subject: Subject,
    call_numbers: Mapping[str, frozenset[str]],
    content: PackageContent,
) -> None:
    if planning.AI_OUTPUTS not in by_store:
        return
    table = call_tables.ai_outputs
    found: list[dict[str, Any]] = []
    for chunk in chunks(by_store[planning.AI_OUTPUTS]):
        found.extend(
            dict(row)
            for row in connection.execute(
                sa.select(table).where(
                    table.c.tenant_id == fulfilment.tenant.id, artefact_key_in(table, chunk)
                )
            ).mappings()
        )
    content.categories[planning.AI_OUTPUTS] = [
        {
            "call_id": row["call_id"],
            "kind": row["kind"],
            "model": row["model"],
            "created_at": row["created_at"],
            "text": mask_text(
                row["text"] or "",
                fulfilment.tenant.country,
                call_numbers.get(row["call_id"], subject.phones),
                subject.emails,
                content.names,
                f"ai_outputs/{row['call_id']}/{row['kind']}",
            ),
        }
        for row in sorted(found, key=lambda r: (r["call_id"], r["kind"]))
    ]


def _names_subject(text: str, country: str, subject: Subject) -> bool:
    return bool(subject_matches(text, country, subject.phones, subject.emails))
