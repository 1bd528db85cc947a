"""Every ingestion path consults the erasure ledger before it stores anything.

An erased subject's data that lands again (a re-sent file, a replay, a backfill, or new data
about them) is treated exactly as the erasure treated it, and counted under a reason code of
``domain.dsar.erased_subjects``, never stored in clear:

- a call of the subject is kept pseudonymised (their numbers as keyed hashes, no caller name or
  CRM reference, marked erased) and its landing line is blanked again;
- a recording, transcript or AI output of such a call is dropped and its landing object deleted;
- someone else's transcript or AI output naming the subject is masked, in the landing object too;
- a CRM link to the subject (contact number, email or CRM record id) or to their call is dropped
  and its landing line blanked;
- a malformed line that names the subject is quarantined with the subject masked in its raw text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.dsar.erased_subjects import ErasedSubjects
from cm_pipelines.domain.dsar.redaction import redact_subject_document, redact_subject_text
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.retention.holds import active_holds_covering
from cm_pipelines.dsar.erasure_ledger import load_erased_subjects
from cm_pipelines.dsar.fulfil.erase_source_lines import blank_lines
from cm_pipelines.dsar.fulfil.object_versions import drop_noncurrent_versions
from cm_pipelines.platform import settings
from cm_pipelines.resources.object_purge import purge_objects
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry
from cm_pipelines.retention.inventory.legal_holds import load_holds
from cm_pipelines.tables.calls import calls
from cm_pipelines.tables.dsar import dsar_erased_subjects

ERASED_BREAKDOWN = "erased_subject"
"""The ``SliceOutcome`` breakdown (and metadata key) counting what the ledger changed."""


def tenant_ledgers(
    connection: sa.Connection, tenant_ids: Iterable[str]
) -> dict[str, ErasedSubjects]:
    """The ledger of each tenant that has erased someone (the hash key is read only then)."""
    wanted = sorted(set(tenant_ids))
    if not wanted:
        return {}
    with_entries = {
        row[0]
        for row in connection.execute(
            sa.select(dsar_erased_subjects.c.tenant_id)
            .where(dsar_erased_subjects.c.tenant_id.in_(wanted))
            .distinct()
        )
    }
    if not with_entries:
        return {}
    key = settings.identifier_hash_key()
    return {
        tenant: load_erased_subjects(connection, tenant, key) for tenant in sorted(with_entries)
    }


def tenant_holds(connection: sa.Connection, tenant_ids: Iterable[str]) -> dict[str, list[dict]]:
    """Active legal holds by tenant: they override erasure, so they override its replay too."""
    holds: dict[str, list[dict]] = {}
    for hold in load_holds(connection, sorted(set(tenant_ids))):
        holds.setdefault(str(hold["tenant_id"]), []).append(hold)
    return holds


def held(
    holds: Mapping[str, list[dict]],
    tenant_id: str,
    *,
    call_id: str | None,
    numbers: Iterable[Any] = (),
    emails: Iterable[Any] = (),
    on: date | None = None,
) -> bool:
    """Whether an active hold keeps this record as it is (the erasure retained it too)."""
    tenant_holds_ = holds.get(tenant_id)
    if not tenant_holds_:
        return False
    return bool(
        active_holds_covering(
            tenant_holds_,
            tenant_id=tenant_id,
            call_id=call_id,
            party_e164s={n for n in numbers if isinstance(n, str)},
            emails={e for e in emails if isinstance(e, str)},
            call_date=on,
        )
    )


def held_call_ids(
    connection: sa.Connection, tenant_id: str, day: date, holds: Mapping[str, list[dict]]
) -> set[str]:
    """Calls of the day a legal hold keeps (with their artefacts), as the erasure left them."""
    if not holds.get(tenant_id):
        return set()
    rows = connection.execute(
        sa.select(calls.c.call_id, calls.c.src_e164, calls.c.dst_e164, calls.c.call_date).where(
            calls.c.tenant_id == tenant_id, calls.c.partition_date == day
        )
    )
    return {
        row.call_id
        for row in rows
        if held(
            holds,
            tenant_id,
            call_id=row.call_id,
            numbers=(row.src_e164, row.dst_e164),
            on=row.call_date,
        )
    }


def erased_call_ids(connection: sa.Connection, tenant_id: str, day: date) -> set[str]:
    """Calls of the day an erasure pseudonymised: their artefacts were deleted with them."""
    rows = connection.execute(
        sa.select(calls.c.call_id).where(
            calls.c.tenant_id == tenant_id,
            calls.c.partition_date == day,
            calls.c.erased_at.is_not(None),
        )
    )
    return {row[0] for row in rows}


def blank_landing_lines(
    object_store: ObjectStoreResource, path: str, lines: Iterable[int], *, multiline_csv: bool
) -> int:
    """Blank the subject's lines of a landing file again, and drop its older versions."""
    wanted = sorted(set(lines))
    if not wanted or not object_store.exists(path):
        return 0
    data = object_store.read_bytes(path)
    new_data, count = blank_lines(data, wanted, multiline_csv=multiline_csv)
    if new_data != data:
        object_store.write_bytes(path, new_data)
    drop_noncurrent_versions(object_store, path)
    return count


def delete_landing_object(object_store: ObjectStoreResource, path: str) -> None:
    """A re-landed artefact of an erased call goes as the erasure's deletion did."""
    outcome = purge_objects(object_store, [path])
    if outcome.failed:
        raise RuntimeError(
            "a re-landed object of an erased subject could not be deleted "
            f"({', '.join(sorted(set(outcome.failed.values())))}); re-run to retry"
        )


def pseudonymise_calls(
    parsed: pd.DataFrame,
    ledgers: Mapping[str, ErasedSubjects],
    now: datetime,
    holds: Mapping[str, list[dict]] | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Parsed calls with the erased subjects' calls pseudonymised as the erasure does, and the
    mask of those calls (their landing lines are blanked by the caller). A call a legal hold
    covers stays as it is, as the erasure retained it."""
    touched = pd.Series(False, index=parsed.index)
    if parsed.empty or not ledgers:
        return parsed, touched
    parsed = parsed.copy()
    if "erased_at" not in parsed.columns:
        parsed["erased_at"] = pd.Series([None] * len(parsed), index=parsed.index, dtype=object)
    for tenant_id, group in parsed.groupby("tenant_id"):
        ledger = ledgers.get(str(tenant_id))
        if not ledger:
            continue
        src = _erased_numbers(group["src_e164"], ledger)
        dst = _erased_numbers(group["dst_e164"], ledger)
        hit = src | dst
        if holds and holds.get(str(tenant_id)):
            hit &= ~_held_rows(group, holds, str(tenant_id))
            src &= hit
            dst &= hit
        if not hit.any():
            continue
        touched.loc[group.index[hit]] = True
        rows = group.index[hit]
        for column, mask in (("src_e164", src), ("dst_e164", dst)):
            erased_rows = group.index[mask]
            parsed.loc[erased_rows, column] = [
                _ledger_hash(value, ledger) for value in parsed.loc[erased_rows, column]
            ]
        parsed.loc[group.index[src], "caller_name"] = None
        parsed.loc[rows, "crm_ref"] = None
        parsed.loc[rows, "userfield"] = [
            f"campaign={campaign}" if isinstance(campaign, str) and campaign else None
            for campaign in parsed.loc[rows, "campaign_id"]
        ]
        parsed.loc[rows, "erased_at"] = now
    return parsed, touched


def _held_rows(group: pd.DataFrame, holds: Mapping[str, list[dict]], tenant_id: str) -> pd.Series:
    return pd.Series(
        [
            held(
                holds,
                tenant_id,
                call_id=row.call_id,
                numbers=(row.src_e164, row.dst_e164),
                on=row.call_date,
            )
            for row in group.itertuples()
        ],
        index=group.index,
    )


def _erased_numbers(column: pd.Series, ledger: ErasedSubjects) -> pd.Series:
    """Which values are an erased subject's number, each distinct number hashed once."""
    distinct = {value for value in column.dropna().unique() if isinstance(value, str)}
    erased = {value for value in distinct if ledger.phone_erased(value)}
    return column.isin(erased) if erased else pd.Series(False, index=column.index)


def _ledger_hash(value: str, ledger: ErasedSubjects) -> str:
    return keyed_hash(value, ledger.key)


def mask_document(data: bytes, country: str, ledger: ErasedSubjects) -> tuple[bytes, int]:
    """A JSON artefact with every erased subject's number, email and name masked (unchanged,
    with 0, when it names none or is not JSON: its reader quarantines it then)."""
    try:
        document: Any = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return data, 0
    masked, count = redact_subject_document(
        document, country, ledger.phones, ledger.emails, ledger.name_matches
    )
    if not count:
        return data, 0
    return json.dumps(masked, indent=2, ensure_ascii=False).encode("utf-8"), count


def mask_quarantined(
    entries: list[QuarantineEntry],
    ledgers: Mapping[str, ErasedSubjects],
    countries: Mapping[str, str],
    object_store: ObjectStoreResource,
) -> tuple[list[QuarantineEntry], int]:
    """Quarantine entries with erased subjects masked in their raw text, and the same lines
    masked in place in their landing file: a malformed line keeps its raw record for repair,
    never an erased subject in clear, and a re-run quarantines the masked line again (nothing
    lost, nothing left to mask). Returns the entries and how many were masked."""
    masked_entries: list[QuarantineEntry] = []
    lines: dict[tuple[str, str], set[int]] = {}
    for entry in entries:
        tenant_id = entry.tenant_id or ""
        ledger = ledgers.get(tenant_id)
        if ledger and entry.raw_record:
            text, count = redact_subject_text(
                entry.raw_record,
                countries.get(tenant_id, "US"),
                ledger.phones,
                ledger.emails,
                ledger.name_matches,
            )
            if count:
                entry = replace(entry, raw_record=text)
                if entry.source_line is not None:
                    span = range(entry.source_line, entry.source_line + text.count("\n") + 1)
                    lines.setdefault((tenant_id, entry.source_file), set()).update(span)
        masked_entries.append(entry)
    for (tenant_id, path), numbers in sorted(lines.items()):
        _mask_landing_lines(
            object_store, path, numbers, countries.get(tenant_id, "US"), ledgers[tenant_id]
        )
    return masked_entries, sum(len(numbers) for numbers in lines.values())


def _mask_landing_lines(
    object_store: ObjectStoreResource,
    path: str,
    numbers: set[int],
    country: str,
    ledger: ErasedSubjects,
) -> None:
    if not object_store.exists(path):
        return
    data = object_store.read_bytes(path)
    lines = data.splitlines(keepends=True)
    for number in sorted(numbers):
        if not 1 <= number <= len(lines):
            continue
        line = lines[number - 1]
        body = line.rstrip(b"\r\n")
        text, count = redact_subject_text(
            body.decode("utf-8", errors="replace"),
            country,
            ledger.phones,
            ledger.emails,
            ledger.name_matches,
        )
        if count:
            lines[number - 1] = text.encode("utf-8") + line[len(body) :]
    new_data = b"".join(lines)
    if new_data != data:
        object_store.write_bytes(path, new_data)
    drop_noncurrent_versions(object_store, path)
