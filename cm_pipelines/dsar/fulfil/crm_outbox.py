"""Downstream copies: a CRM system holding the subject's records gets a task naming them.

Erasure, restriction and rectification each leave one outbox task per CRM system (recipient)
with the record ids to act on; the certificate lists the recipients. A resumed step merges into
the task it already wrote instead of adding a second one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.crm_delivery.certificate import confirmation
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.tables.dsar import dsar_erasure_outbox


def write_outbox(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    link_rows: Sequence[Mapping[str, Any]],
    task: str,
) -> int:
    """One task per downstream recipient (CRM system) naming its record ids."""
    by_recipient: dict[str, set[str]] = defaultdict(set)
    for row in link_rows:
        by_recipient[row["crm_system"]].add(row["crm_record_id"])
    now = fulfilment.clock()
    for recipient, record_ids in sorted(by_recipient.items()):
        existing = connection.execute(
            sa.select(dsar_erasure_outbox.c.id, dsar_erasure_outbox.c.record_refs).where(
                dsar_erasure_outbox.c.request_id == fulfilment.request_id,
                dsar_erasure_outbox.c.recipient == recipient,
            )
        ).first()
        if existing is None:
            connection.execute(
                sa.insert(dsar_erasure_outbox).values(
                    request_id=fulfilment.request_id,
                    tenant_id=fulfilment.tenant.id,
                    recipient=recipient,
                    task=task,
                    record_refs=sorted(record_ids),
                    status="pending",
                    created_at=now,
                )
            )
        else:
            merged = sorted(set(existing[1]) | record_ids)
            connection.execute(
                sa.update(dsar_erasure_outbox)
                .where(dsar_erasure_outbox.c.id == existing[0])
                .values(record_refs=merged)
            )
    return len(by_recipient)


def outbox_recipients(fulfilment: FulfilmentContext, connection: sa.Connection) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            sa.select(dsar_erasure_outbox.c.recipient).where(
                dsar_erasure_outbox.c.request_id == fulfilment.request_id
            )
        )
    ]


def confirmed_deliveries(
    fulfilment: FulfilmentContext, connection: sa.Connection
) -> list[dict[str, Any]]:
    """Erase tasks a CRM already confirmed (``crm_delivery``), as the certificate lists them."""
    outbox = dsar_erasure_outbox.c
    rows = connection.execute(
        sa.select(outbox.id, outbox.recipient, outbox.task, outbox.confirmed_at).where(
            outbox.request_id == fulfilment.request_id,
            outbox.status == "confirmed",
            outbox.task == "erase",
        )
    )
    return [
        confirmation(row.recipient, row.task, row.confirmed_at.date().isoformat(), row.id)
        for row in rows
    ]
