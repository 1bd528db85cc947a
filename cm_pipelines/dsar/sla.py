"""Open requests by days left on their statutory clock, in each tenant's own today."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cm_pipelines.domain.dsar import clock as dsar_clock
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.request_records import open_requests
from cm_pipelines.dsar.request_status import tenant_today
from cm_pipelines.resources.warehouse import WarehouseResource


def sla_rows(
    warehouse: WarehouseResource, tenants: dict[str, Tenant], now: datetime | None = None
) -> list[dict[str, Any]]:
    """Open requests with days left (tenant-local today), soonest first."""
    with warehouse.connect() as connection:
        records = open_requests(connection)
    rows = []
    for record in records:
        tenant = tenants.get(record.tenant_id)
        timezone = tenant.timezone if tenant else "UTC"
        today = tenant_today(timezone, now)
        due = record.effective_due_date
        rows.append(
            {
                "request_id": record.request_id,
                "tenant_id": record.tenant_id,
                "type": record.request_type,
                "state": record.state,
                "jurisdiction": record.jurisdiction,
                "time_zone": timezone,
                "due_date": due.isoformat(),
                "extended": record.extended_due_date is not None,
                "days_left": dsar_clock.days_left(due, today),
                "ack_due_date": record.ack_due_date.isoformat() if record.ack_due_date else None,
            }
        )
    return sorted(rows, key=lambda row: (row["days_left"], row["request_id"]))


def sla_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| request | tenant | type | state | due | zone | days left |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['request_id']} | {r['tenant_id']} | {r['type']} | {r['state']} | "
        f"{r['due_date']}{' (ext.)' if r['extended'] else ''} | {r['time_zone']} | "
        f"{r['days_left']} |"
        for r in rows[:200]
    ]
    return "\n".join(lines)
