"""The erasure ledger in the warehouse: written by an erasure, read by every ingestion path.

``record_erased_subject`` runs before an erasure touches any store, so the subject's names are
still on their calls (the call log step drops them) and a re-landed file arriving while the
erasure runs is already recognised. Recording again adds nothing: a resumed erasure is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from cm_pipelines.domain.dsar.erased_subjects import ErasedSubjects, LedgerEntry, ledger_entries
from cm_pipelines.domain.dsar.planning import Subject
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables.dsar import dsar_erased_subjects


def subject_names(connection: sa.Connection, tenant_id: str, subject: Subject) -> set[str]:
    """Caller-ID names the subject's own calls carry (the subject called from their number)."""
    calls = call_tables.calls
    phones = sorted(subject.phones)
    if not phones:
        return set()
    rows = connection.execute(
        sa.select(calls.c.caller_name)
        .where(
            calls.c.tenant_id == tenant_id,
            calls.c.src_e164.in_(phones),
            calls.c.caller_name.is_not(None),
        )
        .distinct()
    )
    return {row[0] for row in rows if row[0]}


def record_erased_subject(
    connection: sa.Connection,
    *,
    tenant_id: str,
    request_id: str,
    subject: Subject,
    names: Iterable[str],
    key: bytes,
    now: datetime,
) -> int:
    """Add the subject's keyed hashes to the tenant's ledger; returns how many were new."""
    table = dsar_erased_subjects
    known = {
        (row.identifier_kind, row.identifier_hash)
        for row in connection.execute(
            sa.select(table.c.identifier_kind, table.c.identifier_hash).where(
                table.c.tenant_id == tenant_id
            )
        )
    }
    new = [
        {
            "tenant_id": tenant_id,
            "identifier_kind": entry.kind,
            "identifier_hash": entry.identifier_hash,
            "name_words": entry.name_words,
            "request_id": request_id,
            "erased_on": now.date(),
            "created_at": now,
        }
        for entry in ledger_entries(subject, names, key)
        if (entry.kind, entry.identifier_hash) not in known
    ]
    if new:
        connection.execute(sa.insert(table), new)
    return len(new)


def load_erased_subjects(connection: sa.Connection, tenant_id: str, key: bytes) -> ErasedSubjects:
    """The tenant's ledger as hashes (empty when nobody of the tenant was erased)."""
    table = dsar_erased_subjects
    rows = connection.execute(
        sa.select(table.c.identifier_kind, table.c.identifier_hash, table.c.name_words).where(
            table.c.tenant_id == tenant_id
        )
    )
    entries = [LedgerEntry(row[0], row[1], row[2]) for row in rows]
    return ErasedSubjects.from_entries(entries, key)
