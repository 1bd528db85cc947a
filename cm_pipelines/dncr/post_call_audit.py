"""The post-call audit of one call day, per tenant: read, match, store the violations.

Reads the day's outbound campaign calls (``direction = 'outbound'`` with a ``campaign=`` in the
CDR userfield: the telemarketing calls), the decisions and internal-list entries of their
callees (by keyed hash), lets ``domain.dncr.post_call_audit`` decide, and replaces the tenant's
violations of that day in one transaction, so a re-run ends in the same state. Erased or purged
calls are skipped (their numbers are gone; counted).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.dncr.post_call_audit import (
    Decision,
    ListEntry,
    PlacedCall,
    Violation,
    as_row,
    audit_calls,
    calls_in_violation,
    counts_by_reason,
)
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.phone_numbers import region_of
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as tables

HASH_CHUNK = 500


@dataclass
class TenantAudit:
    """Counts only: what one tenant's day held and what was found."""

    calls_audited: int = 0
    calls_skipped: int = 0
    calls_in_violation: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def violations(self) -> int:
        return sum(self.by_reason.values())


def _placed_calls(
    connection: sa.Connection, tenant_id: str, day: date, key: bytes
) -> tuple[list[PlacedCall], int]:
    calls = call_tables.calls
    query = (
        sa.select(
            calls.c.call_id,
            calls.c.campaign_id,
            calls.c.dst_e164,
            calls.c.started_at,
            calls.c.erased_at,
            calls.c.deleted_at,
        )
        .where(
            calls.c.tenant_id == tenant_id,
            calls.c.partition_date == day,
            calls.c.direction == "outbound",
            calls.c.campaign_id.is_not(None),
        )
        .order_by(calls.c.started_at, calls.c.call_id)
    )
    placed, skipped = [], 0
    for row in connection.execute(query):
        if row.erased_at is not None or row.deleted_at is not None or not row.dst_e164:
            skipped += 1
            continue
        e164 = str(row.dst_e164)
        placed.append(
            PlacedCall(
                str(row.call_id),
                str(row.campaign_id),
                e164,
                keyed_hash(e164, key),
                row.started_at,
            )
        )
    return placed, skipped


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), HASH_CHUNK):
        yield list(values[start : start + HASH_CHUNK])


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _decisions(connection: sa.Connection, tenant_id: str, hashes: list[str]) -> list[Decision]:
    washes, checks = tables.wash_results, tables.dncr_check_records
    found: list[Decision] = []
    for chunk in _chunks(hashes):
        for row in connection.execute(
            sa.select(washes).where(
                washes.c.tenant_id == tenant_id,
                washes.c.e164_hash.in_(chunk),
                washes.c.deleted_at.is_(None),
            )
        ):
            found.append(_decision(row, row.washed_at, "wash"))
        for row in connection.execute(
            sa.select(checks).where(
                checks.c.tenant_id == tenant_id,
                checks.c.e164_hash.in_(chunk),
                checks.c.deleted_at.is_(None),
            )
        ):
            found.append(_decision(row, row.checked_at, "check"))
    return found


def _decision(row: sa.Row, decided_at: datetime, source: str) -> Decision:
    return Decision(
        str(row.e164_hash),
        _aware(decided_at) or decided_at,
        str(row.decision),
        str(row.reason),
        _aware(row.valid_until),
        source,
        str(row.id),
        row.registry_id,
        row.registry_version,
    )


def _list_entries(connection: sa.Connection, tenant_id: str, hashes: list[str]) -> list[ListEntry]:
    entries = tables.suppression_entries
    found: list[ListEntry] = []
    for chunk in _chunks(hashes):
        query = sa.select(
            entries.c.id,
            entries.c.e164_hash,
            entries.c.created_at,
            entries.c.expires_at,
            entries.c.removed_at,
        ).where(entries.c.tenant_id == tenant_id, entries.c.e164_hash.in_(chunk))
        for row in connection.execute(query):
            found.append(
                ListEntry(
                    str(row.e164_hash),
                    _aware(row.created_at) or row.created_at,
                    _aware(row.expires_at),
                    _aware(row.removed_at),
                    str(row.id),
                )
            )
    return found


def audit_tenant_day(
    warehouse: WarehouseResource,
    tenant: Tenant,
    day: date,
    *,
    key: bytes,
    run_id: str | None,
    now: datetime,
) -> TenantAudit:
    """Audit one tenant's call day and replace its stored violations of that day."""
    with warehouse.connect() as connection:
        placed, skipped = _placed_calls(connection, tenant.id, day, key)
        hashes = sorted({call.e164_hash for call in placed})
        decisions = _decisions(connection, tenant.id, hashes)
        entries = _list_entries(connection, tenant.id, hashes)
    violations = audit_calls(
        placed,
        decisions=decisions,
        list_entries=entries,
        tenant_zone=tenant.timezone,
        country_of=lambda e164: region_of(e164) or tenant.country,
    )
    _store(warehouse, tenant.id, day, violations, run_id=run_id, now=now)
    return TenantAudit(
        calls_audited=len(placed),
        calls_skipped=skipped,
        calls_in_violation=calls_in_violation(violations),
        by_reason=counts_by_reason(violations),
    )


def _store(
    warehouse: WarehouseResource,
    tenant_id: str,
    day: date,
    violations: Sequence[Violation],
    *,
    run_id: str | None,
    now: datetime,
) -> None:
    table = tables.dncr_post_call_violations
    frame = pd.DataFrame(
        [
            {
                **as_row(v),
                "tenant_id": tenant_id,
                "call_day": day,
                "audited_at": now,
                "run_id": run_id,
            }
            for v in violations
        ]
    )
    with warehouse.begin() as connection:
        connection.execute(
            sa.delete(table).where(table.c.tenant_id == tenant_id, table.c.call_day == day)
        )
        bulk_insert(connection, table, frame)


def open_violations(connection: sa.Connection) -> dict[str, int]:
    """Violations held per tenant (every audited day): what the check and overview show."""
    table = tables.dncr_post_call_violations
    query = sa.select(table.c.tenant_id, sa.func.count()).group_by(table.c.tenant_id)
    return {str(tenant): int(count) for tenant, count in connection.execute(query)}


def violations_of_day(connection: sa.Connection, day: date) -> list[dict]:
    """A day's stored violations (keyed hashes only), for the check's ids and counts."""
    table = tables.dncr_post_call_violations
    query = (
        sa.select(table.c.tenant_id, table.c.call_id, table.c.reason)
        .where(table.c.call_day == day)
        .order_by(table.c.tenant_id, table.c.call_id, table.c.reason)
    )
    return [dict(row._mapping) for row in connection.execute(query)]
