"""Evidence of a delivery's end: an audit entry for every confirmed or dead-lettered task, and
the confirmed recipient on the erasure certificate (object and row, re-sealed).

Written in the transaction that moves the task, so a task is never confirmed without its audit
entry. The certificate object is rewritten before that transaction commits: if the commit fails
the task stays pending and its next attempt (the CRM answers 404 for a contact already gone, or
accepts the same PATCH again) rewrites the same certificate.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from cm_pipelines.domain.crm_delivery.certificate import confirmation, with_confirmations
from cm_pipelines.domain.crm_delivery.requests import ERASE, Task
from cm_pipelines.domain.dsar.export_package import sha256_hex
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.tables.dsar import dsar_certificates

AUDIT_ACTOR = "crm_delivery"


def audit_end(
    connection: sa.Connection,
    task: Task,
    *,
    action: str,
    attempts: int,
    connector: str,
    status_code: int | None,
    reason: str,
    run_id: str | None,
) -> None:
    """``dsar.crm_task.confirmed`` or ``dsar.crm_task.dead_letter``: ids and counts only."""
    append_audit(
        connection,
        actor=AUDIT_ACTOR,
        action=action,
        tenant_id=task.tenant_id,
        object_refs={"request_id": task.request_id, "outbox_task": task.task_id},
        details={
            "recipient": task.recipient,
            "task": task.kind,
            "connector": connector,
            "records": len(task.record_ids),
            "attempts": attempts,
            "status_code": status_code,
            "reason": reason,
        },
        run_id=run_id,
    )


def certify_confirmation(
    connection: sa.Connection,
    object_store: ObjectStoreResource,
    task: Task,
    confirmed_on: str,
) -> bool:
    """List the confirmed recipient on the request's erasure certificate; False when there is
    none to amend (not an erasure, or a case file the retention purge already wiped)."""
    if task.kind != ERASE:
        return False
    row = connection.execute(
        sa.select(dsar_certificates.c.object_path, dsar_certificates.c.body).where(
            dsar_certificates.c.request_id == task.request_id
        )
    ).first()
    if row is None or not row.body:
        return False
    body = with_confirmations(
        row.body, [confirmation(task.recipient, task.kind, confirmed_on, task.task_id)]
    )
    data = json.dumps(body, indent=2, sort_keys=True).encode("utf-8")
    object_store.write_bytes(row.object_path, data)
    connection.execute(
        sa.update(dsar_certificates)
        .where(dsar_certificates.c.request_id == task.request_id)
        .values(body=body, sha256=sha256_hex(data))
    )
    return True
