"""Open requests by days left on their statutory clock and where their acknowledgement stands,
in each tenant's own today."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.request_queue import request_queue
from cm_pipelines.resources.warehouse import WarehouseResource


def sla_rows(
    warehouse: WarehouseResource, tenants: dict[str, Tenant], now: datetime | None = None
) -> list[dict[str, Any]]:
    """Open requests with days left and acknowledgement status (tenant-local today), soonest
    first."""
    with warehouse.connect() as connection:
        entries = request_queue(connection, tenants, now=now)
    rows = [entry.as_dict() for entry in entries]
    return sorted(rows, key=lambda row: (row["days_left"], row["request_id"]))


def sla_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| request | tenant | type | state | due | zone | days left | acknowledgement |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['request_id']} | {r['tenant_id']} | {r['type']} | {r['state']} | "
        f"{r['due_date']}{' (ext.)' if r['extended'] else ''} | {r['time_zone']} | "
        f"{r['days_left']} | {r['acknowledgement']} |"
        for r in rows[:200]
    ]
    return "\n".join(lines)
