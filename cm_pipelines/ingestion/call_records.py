"""Call detail records of one tenant slice of a call day: Asterisk ``Master.csv`` files parsed by
the domain reader, checked against what the warehouse already holds, and the slice's calls of
the day replaced.

A call (``uniqueid``) already ingested from another day is quarantined as a duplicate; a call
retention purged or a DSAR erased is quarantined as re-landed, never resurrected.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.dsar.erased_subjects import REASON_MASKED, REASON_PSEUDONYMISED
from cm_pipelines.domain.ingestion.cdr.reader import read_cdr_csv
from cm_pipelines.ingestion.erased_guard import (
    ERASED_BREAKDOWN,
    blank_landing_lines,
    mask_quarantined,
    pseudonymise_calls,
    tenant_holds,
    tenant_ledgers,
)
from cm_pipelines.ingestion.partition_writes import (
    RELANDED_DETAIL,
    RELANDED_REASON,
    partition_day,
    purged_keys,
    replace_slice,
)
from cm_pipelines.ingestion.tenant_slices import SliceOutcome, TenantSliceWork, json_breakdown
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import calls as tables

CALL_KEY = ["tenant_id", "call_id"]
ID_CHUNK = 5_000


def _existing_call_ids(
    connection: sa.Connection, tenant_id: str, call_ids: list[str], other_than: date | None
) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(call_ids), ID_CHUNK):
        chunk = call_ids[start : start + ID_CHUNK]
        query = sa.select(tables.calls.c.call_id).where(
            tables.calls.c.tenant_id == tenant_id, tables.calls.c.call_id.in_(chunk)
        )
        if other_than is not None:
            query = query.where(tables.calls.c.partition_date != other_than)
        found.update(row[0] for row in connection.execute(query))
    return found


def _read_slice(
    work: TenantSliceWork, object_store: ObjectStoreResource, outcome: SliceOutcome
) -> tuple[pd.DataFrame, list[QuarantineEntry], set[str]]:
    """The slice's parsed calls, the lines the reader quarantined, and the tenants whose file
    was there (a missing file, purged or never landed, replaces nothing)."""
    frames: list[pd.DataFrame] = []
    quarantined: list[QuarantineEntry] = []
    read_tenants: set[str] = set()
    for tenant_id, tenant in sorted(work.tenants.items()):
        path = landing.cdr_file(tenant_id, work.day_key)
        if not object_store.exists(path):
            continue
        outcome.counts["files_read"] += 1
        read_tenants.add(tenant_id)
        result = read_cdr_csv(object_store.read_bytes(path), path, {tenant_id: tenant})
        quarantined.extend(
            QuarantineEntry(
                row.source_file,
                row.line_number,
                row.reason_code,
                row.detail,
                row.raw_record,
                tenant_id,
            )
            for row in result.quarantined
        )
        if not result.calls.empty:
            frames.append(result.calls)
    parsed = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return parsed, quarantined, read_tenants


def _ingested_elsewhere(
    connection: sa.Connection, parsed: pd.DataFrame, day: date
) -> tuple[pd.Series, list[QuarantineEntry]]:
    """Calls whose uniqueid another call day already holds, and their quarantine entries."""
    clashes = pd.Series(False, index=parsed.index)
    entries: list[QuarantineEntry] = []
    for tenant_id, group in parsed.groupby("tenant_id"):
        elsewhere = _existing_call_ids(
            connection, str(tenant_id), group["call_id"].tolist(), other_than=day
        )
        if not elsewhere:
            continue
        clash = group["call_id"].isin(elsewhere)
        clashes.loc[group.index[clash]] = True
        entries.extend(
            QuarantineEntry(
                str(row.source_file),
                int(row.source_line),
                "duplicate_call",
                "uniqueid already ingested from another call day",
                None,
                str(tenant_id),
            )
            for row in group.loc[clash].itertuples()
        )
    return clashes, entries


def _relanded(
    connection: sa.Connection,
    parsed: pd.DataFrame,
    day: date,
    work: TenantSliceWork,
    candidates: pd.Series,
) -> tuple[pd.Series, list[QuarantineEntry]]:
    """Among ``candidates``, the calls retention purged or a DSAR erased, and their entries."""
    purged = purged_keys(connection, tables.calls, day, work.tenants.keys(), CALL_KEY)
    if not purged:
        return pd.Series(False, index=parsed.index), []
    keys = zip(parsed["tenant_id"], parsed["call_id"], strict=True)
    relanded = pd.Series([key in purged for key in keys], index=parsed.index) & candidates
    entries = [
        QuarantineEntry(
            str(row.source_file),
            int(row.source_line),
            RELANDED_REASON,
            RELANDED_DETAIL,
            None,
            str(row.tenant_id),
        )
        for row in parsed.loc[relanded].itertuples()
    ]
    return relanded, entries


def _count(outcome: SliceOutcome, parsed: pd.DataFrame, reasons: Counter[str]) -> None:
    outcome.counts["rows_parsed"] += len(parsed)
    outcome.count_quarantined(reasons)
    if parsed.empty:
        return
    outcome.breakdown("calls_by_tenant").update(Counter(parsed["tenant_id"]))
    outcome.breakdown("directions").update(Counter(parsed["direction"]))
    outcome.breakdown("party_number_kinds").update(
        Counter(parsed["src_kind"]) + Counter(parsed["dst_kind"])
    )


def _guard_erased(
    parsed: pd.DataFrame,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    outcome: SliceOutcome,
) -> pd.DataFrame:
    """Calls of erased subjects pseudonymised as their erasure did, their landing lines blanked
    again (``erased_guard``)."""
    if parsed.empty:
        return parsed
    with warehouse.connect() as connection:
        ledgers = tenant_ledgers(connection, parsed["tenant_id"].unique())
        holds = tenant_holds(connection, ledgers) if ledgers else {}
    parsed, touched = pseudonymise_calls(parsed, ledgers, datetime.now(UTC), holds)
    if touched.any():
        hit = parsed.loc[touched]
        for path, group in hit.groupby("source_file"):
            blank_landing_lines(
                object_store, str(path), group["source_line"].astype(int), multiline_csv=False
            )
        outcome.breakdown(ERASED_BREAKDOWN)[REASON_PSEUDONYMISED] += int(touched.sum())
    return parsed


def _mask_quarantined(
    quarantined: list[QuarantineEntry],
    work: TenantSliceWork,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    outcome: SliceOutcome,
) -> list[QuarantineEntry]:
    """Malformed lines keep their raw text, with erased subjects masked in it (and in the
    landing file)."""
    if not any(entry.raw_record for entry in quarantined):
        return quarantined
    with warehouse.connect() as connection:
        ledgers = tenant_ledgers(connection, work.tenants.keys())
    countries = {tenant_id: tenant.country for tenant_id, tenant in work.tenants.items()}
    quarantined, masked = mask_quarantined(quarantined, ledgers, countries, object_store)
    if masked:
        outcome.breakdown(ERASED_BREAKDOWN)[REASON_MASKED] += masked
    return quarantined


def ingest_call_records(
    work: TenantSliceWork, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> SliceOutcome:
    """Parse the slice's Master.csv files and replace those tenants' calls of the day."""
    day = partition_day(work.day_key)
    outcome = SliceOutcome()
    parsed, quarantined, read_tenants = _read_slice(work, object_store, outcome)
    parsed = _guard_erased(parsed, warehouse, object_store, outcome)
    quarantined = _mask_quarantined(quarantined, work, warehouse, object_store, outcome)
    with warehouse.begin() as connection:
        if not parsed.empty:
            clashes, duplicates = _ingested_elsewhere(connection, parsed, day)
            relanded, resurrections = _relanded(connection, parsed, day, work, ~clashes)
            quarantined += duplicates + resurrections
            parsed = parsed.loc[~clashes & ~relanded].copy()
            parsed["partition_date"] = day
            parsed["ingested_run_id"] = work.run_id
        inserted, reasons = replace_slice(
            connection,
            work,
            asset_name="call_records",
            table=tables.calls,
            tenants_read=read_tenants,
            frame=parsed,
            key_columns=CALL_KEY,
            quarantined=quarantined,
        )
    outcome.counts["rows_inserted"] += inserted
    _count(outcome, parsed, reasons)
    return outcome


def call_records_metadata(total: SliceOutcome) -> dict:
    """The day's totals over every slice: counts and breakdowns, never a number."""
    rows = total.counts["rows_parsed"]
    return {
        "rows_parsed": rows,
        "rows_inserted": total.counts["rows_inserted"],
        "rows_quarantined": total.counts["quarantined"],
        "files_read": total.counts["files_read"],
        "calls_by_tenant": json_breakdown(total, "calls_by_tenant"),
        "directions": json_breakdown(total, "directions"),
        "party_number_kinds": json_breakdown(total, "party_number_kinds"),
        ERASED_BREAKDOWN: json_breakdown(total, ERASED_BREAKDOWN),
        # per second of slice work: slices on several workers overlap in wall-clock time
        "rows_per_second": round(rows / total.seconds, 1) if total.seconds > 0 else 0.0,
    }
