"""What every ingestion asset does the same way: partition replacement and quarantine."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.tables.calls import quarantine

CALL_DAY_ASSETS: tuple[str, ...] = (
    "call_records",
    "recordings",
    "transcripts",
    "ai_summaries",
    "crm_links",
)
"""The ingestion assets partitioned by call day (their quarantine is too)."""


def live_rows(table: sa.Table) -> sa.ColumnElement[bool]:
    """Rows neither purged by retention nor erased by a DSAR (where the table can be erased)."""
    live: sa.ColumnElement[bool] = table.c.deleted_at.is_(None)
    if "erased_at" in table.c:
        live = sa.and_(live, table.c.erased_at.is_(None))
    return live


@dataclass(frozen=True)
class QuarantineEntry:
    """A row or file that could not be read; the raw record stays in the warehouse, not in logs."""

    source_file: str
    source_line: int | None
    reason_code: str
    detail: str
    raw_record: str | None = None
    tenant_id: str | None = None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def partition_day(partition_key: str) -> date:
    return date.fromisoformat(partition_key)


def advisory_lock_key(scope: str, partition_key: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks, one per (scope, partition)."""
    digest = hashlib.blake2b(f"cm:{scope}:{partition_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_partition(connection: sa.Connection, partition_key: str, scope: str = "ingestion") -> None:
    """Make concurrent writers of one partition take turns until this transaction ends.

    Two runs replacing the same call day at once would each delete only what they can see and
    insert their own rows: duplicated quarantine rows, primary-key failures. On PostgreSQL a
    transaction-scoped advisory lock makes the second writer wait for the first to commit, then
    replace what it wrote (READ COMMITTED: each statement sees the latest commit). SQLite write
    transactions already begin IMMEDIATE (``resources.warehouse``): one writer at a time.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": advisory_lock_key(scope, partition_key)},
        )


def replace_quarantine(
    connection: sa.Connection,
    asset_name: str,
    partition_key: str,
    entries: Sequence[QuarantineEntry],
    run_id: str | None,
    *,
    tenant_ids: Collection[str] | None = None,
    other_than_tenants: Collection[str] | None = None,
) -> Counter[str]:
    """Quarantine of one asset partition is replaced as a whole, like the partition itself.

    A step that ingests only some tenants of a partition replaces only their rows
    (``tenant_ids``); the step that finishes the partition replaces the rest: rows with no
    tenant (files under an unknown tenant folder) and tenants no step ingested
    (``other_than_tenants``).
    """
    if tenant_ids is not None and other_than_tenants is not None:
        raise ValueError("give tenant_ids or other_than_tenants, not both")
    scope: sa.ColumnElement[bool] = sa.and_(
        quarantine.c.asset == asset_name, quarantine.c.partition_key == partition_key
    )
    if tenant_ids is not None:
        tenant_list = sorted(set(tenant_ids))
        for tenant_id in tenant_list:
            lock_partition(connection, f"{partition_key}:{tenant_id}", f"quarantine:{asset_name}")
        scope = sa.and_(scope, quarantine.c.tenant_id.in_(tenant_list))
    elif other_than_tenants is not None:
        lock_partition(connection, f"{partition_key}:*", f"quarantine:{asset_name}")
        scope = sa.and_(
            scope,
            sa.or_(
                quarantine.c.tenant_id.is_(None),
                quarantine.c.tenant_id.not_in(sorted(set(other_than_tenants))),
            ),
        )
    else:
        lock_partition(connection, partition_key, scope=f"quarantine:{asset_name}")
    connection.execute(sa.delete(quarantine).where(scope))
    now = datetime.now(UTC)
    if entries:
        connection.execute(
            sa.insert(quarantine),
            [
                {
                    "asset": asset_name,
                    "partition_key": partition_key,
                    "tenant_id": entry.tenant_id,
                    "source_file": entry.source_file[:512],  # a hostile name must not fail the day
                    "source_line": entry.source_line,
                    "reason_code": entry.reason_code,
                    "detail": entry.detail[:500],
                    # PostgreSQL text cannot hold NUL: keep it visible as an escape, stored inertly
                    "raw_record": entry.raw_record.replace("\x00", "\\x00")
                    if entry.raw_record
                    else entry.raw_record,
                    "run_id": run_id,
                    "created_at": now,
                }
                for entry in entries
            ],
        )
    return Counter(entry.reason_code for entry in entries)


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
