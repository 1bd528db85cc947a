"""Quarantine: where every capability keeps what it could not read, with a reason.

A row or file that fails to parse is never dropped silently: it is stored in the warehouse's
``quarantine`` table with its source file, line, reason code and raw record (never in a log),
replaced as a whole with the partition it belongs to, and purged under the tenant's retention.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from cm_pipelines.resources.locks import lock_partition
from cm_pipelines.tables.calls import quarantine


@dataclass(frozen=True)
class QuarantineEntry:
    """A row or file that could not be read; the raw record stays in the warehouse, not in logs."""

    source_file: str
    source_line: int | None
    reason_code: str
    detail: str
    raw_record: str | None = None
    tenant_id: str | None = None


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
