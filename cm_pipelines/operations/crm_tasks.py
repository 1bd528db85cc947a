"""The DSAR outbox as operations watches it: tasks for CRM systems that nobody has picked up.

Erasure, rectification and restriction leave one task per CRM system in ``dsar_erasure_outbox``
(``pending`` until the CRM side sends and confirms it). A task that stays pending means the
subject's records in the CRM were not erased or corrected, so ``dsar_crm_tasks_delivered``
fails once one is older than ``CM_ALERT_CRM_TASK_HOURS``, and at once for a task delivery
dead-lettered (``crm_delivery``). Only ids and times are read: the
record ids a task names stay in the warehouse.
"""

from __future__ import annotations

import sqlalchemy as sa

from cm_pipelines.domain.operations.alerts import OutboxTask
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables.dsar import dsar_erasure_outbox


def pending_outbox_tasks(warehouse: WarehouseResource) -> list[OutboxTask]:
    """Every task still pending, of every tenant (the index on status serves the filter)."""
    return _outbox_tasks(warehouse, "pending")


def dead_letter_outbox_tasks(warehouse: WarehouseResource) -> list[OutboxTask]:
    """Every task delivery gave up on (``crm_delivery``: the ceiling of attempts, or a request
    the CRM refused): the CRM side is outstanding until a person acts on it."""
    return _outbox_tasks(warehouse, "dead_letter")


def _outbox_tasks(warehouse: WarehouseResource, status: str) -> list[OutboxTask]:
    outbox = dsar_erasure_outbox.c
    query = sa.select(
        outbox.id, outbox.request_id, outbox.tenant_id, outbox.recipient, outbox.created_at
    ).where(outbox.status == status)
    with warehouse.connect() as connection:
        return [
            OutboxTask(
                task_id=int(row.id),
                request_id=str(row.request_id),
                tenant_id=str(row.tenant_id),
                recipient=str(row.recipient),
                created_at=row.created_at,
            )
            for row in connection.execute(query)
        ]
