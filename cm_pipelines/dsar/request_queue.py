"""The request queue ``cm dsar list`` shows and the SLA asset reads: every request with its
clock in its tenant's own today. Ids, dates and states only, never an identifier."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from cm_pipelines.domain.dsar.operator import QueueEntry, queue_order
from cm_pipelines.domain.dsar.requests import OPEN_STATES
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.request_status import tenant_today
from cm_pipelines.tables.dsar import dsar_requests

QUEUE_COLUMNS = (
    dsar_requests.c.request_id,
    dsar_requests.c.tenant_id,
    dsar_requests.c.request_type,
    dsar_requests.c.jurisdiction,
    dsar_requests.c.state,
    dsar_requests.c.received_on,
    dsar_requests.c.due_date,
    dsar_requests.c.extended_due_date,
    dsar_requests.c.ack_due_date,
    dsar_requests.c.acknowledged_on,
)


def request_queue(
    connection: sa.Connection,
    tenants: dict[str, Tenant],
    *,
    states: Sequence[str] = OPEN_STATES,
    tenant_id: str | None = None,
    overdue_only: bool = False,
    now: datetime | None = None,
) -> list[QueueEntry]:
    """Requests in ``states`` (of one tenant if given), soonest due first."""
    query = sa.select(*QUEUE_COLUMNS).where(dsar_requests.c.state.in_(list(states)))
    if tenant_id is not None:
        query = query.where(dsar_requests.c.tenant_id == tenant_id)
    entries = []
    for row in connection.execute(query).mappings():
        tenant = tenants.get(row["tenant_id"])
        time_zone = tenant.timezone if tenant else "UTC"
        entries.append(
            QueueEntry(
                request_id=row["request_id"],
                tenant_id=row["tenant_id"],
                request_type=row["request_type"],
                jurisdiction=row["jurisdiction"],
                state=row["state"],
                received_on=row["received_on"],
                due=row["extended_due_date"] or row["due_date"],
                extended=row["extended_due_date"] is not None,
                ack_due=row["ack_due_date"],
                acknowledged_on=row["acknowledged_on"],
                today=tenant_today(time_zone, now),
                time_zone=time_zone,
            )
        )
    if overdue_only:
        entries = [entry for entry in entries if entry.overdue]
    return queue_order(entries)
