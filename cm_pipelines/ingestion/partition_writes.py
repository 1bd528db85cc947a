"""What every call-day ingestion does the same way: replace a partition's live rows, never
resurrect what retention purged or a DSAR erased."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.ingestion.tenant_slices import TenantSliceWork
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.locks import lock_partition
from cm_pipelines.resources.quarantine import QuarantineEntry, replace_quarantine
from cm_pipelines.tables.base import live_rows
from cm_pipelines.tables.calls import calls


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def partition_day(partition_key: str) -> date:
    return date.fromisoformat(partition_key)


def replace_live_partition(
    connection: sa.Connection,
    table: sa.Table,
    partition_date: date,
    tenant_ids: Iterable[str],
    frame: pd.DataFrame,
    key_columns: Sequence[str],
) -> int:
    """Replace a partition's live rows and insert rows not already present.

    Rows that retention purged or a DSAR erased (``deleted_at`` or ``erased_at`` set) are kept
    as they are: re-ingesting a day must never resurrect data that was deleted on purpose.
    """
    tenant_list = sorted(set(tenant_ids))
    if not tenant_list:
        return 0
    for tenant_id in tenant_list:  # always in this order: two writers never wait on each other
        lock_partition(connection, f"{partition_date.isoformat()}:{tenant_id}")
    scope = sa.and_(table.c.partition_date == partition_date, table.c.tenant_id.in_(tenant_list))
    connection.execute(sa.delete(table).where(scope, live_rows(table)))
    if frame.empty:
        return 0
    kept = connection.execute(
        sa.select(*[table.c[name] for name in key_columns]).where(scope)
    ).all()
    if kept:
        kept_keys = pd.MultiIndex.from_tuples([tuple(row) for row in kept], names=list(key_columns))
        frame_keys = pd.MultiIndex.from_frame(frame.loc[:, list(key_columns)].astype(str))
        frame = frame.loc[~frame_keys.isin(kept_keys.map(lambda key: tuple(str(v) for v in key)))]
    return bulk_insert(connection, table, frame)


RELANDED_REASON = "relanded_after_purge"
RELANDED_DETAIL = "its record was purged or erased; the kept record is left as it is"


def purged_keys(
    connection: sa.Connection,
    table: sa.Table,
    partition_date: date,
    tenant_ids: Iterable[str],
    key_columns: Sequence[str],
) -> set[tuple[str, ...]]:
    """Keys of a partition's rows that retention purged or a DSAR erased.

    A landing file delivered again for such a key is quarantined (without its raw content, which
    was deleted on purpose) instead of being dropped silently or resurrected.
    """
    tenant_list = sorted(set(tenant_ids))
    if not tenant_list:
        return set()
    rows = connection.execute(
        sa.select(*[table.c[name] for name in key_columns]).where(
            table.c.partition_date == partition_date,
            table.c.tenant_id.in_(tenant_list),
            sa.not_(live_rows(table)),
        )
    )
    return {tuple(str(value) for value in row) for row in rows}


def live_call_ids(connection: sa.Connection, tenant_id: str, day: date) -> set[str]:
    """The calls of a tenant's day that are neither purged nor erased: what a recording,
    transcript, AI output or CRM link may link to."""
    rows = connection.execute(
        sa.select(calls.c.call_id).where(
            calls.c.tenant_id == tenant_id,
            calls.c.partition_date == day,
            calls.c.deleted_at.is_(None),
        )
    )
    return {row[0] for row in rows}


def without_duplicates(
    frame: pd.DataFrame,
    key_columns: Sequence[str],
    *,
    reason_code: str,
    detail: str,
    path_column: str,
    line_column: str | None = None,
) -> tuple[pd.DataFrame, list[QuarantineEntry]]:
    """The first row of each key kept; the others quarantined (they are never silently lost)."""
    if frame.empty:
        return frame, []
    duplicated = frame.duplicated(subset=list(key_columns), keep="first")
    entries = [
        QuarantineEntry(
            str(getattr(row, path_column)),
            int(getattr(row, line_column)) if line_column else None,
            reason_code,
            detail,
            None,
            str(row.tenant_id),
        )
        for row in frame.loc[duplicated].itertuples()
    ]
    return frame.loc[~duplicated], entries


def replace_slice(
    connection: sa.Connection,
    work: TenantSliceWork,
    *,
    asset_name: str,
    table: sa.Table,
    tenants_read: Iterable[str],
    frame: pd.DataFrame,
    key_columns: Sequence[str],
    quarantined: Sequence[QuarantineEntry],
) -> tuple[int, Counter[str]]:
    """One slice's rows and quarantine of the day replaced in the caller's transaction: rows of
    the tenants whose file was read, quarantine of every tenant of the slice. Returns the rows
    inserted and the quarantine reasons."""
    inserted = replace_live_partition(
        connection, table, partition_day(work.day_key), tenants_read, frame, key_columns
    )
    reasons = replace_quarantine(
        connection,
        asset_name,
        work.day_key,
        quarantined,
        work.run_id,
        tenant_ids=work.tenants.keys(),
    )
    return inserted, reasons
