"""The outbox as delivery reads and moves it: due tasks, claims, and what each attempt left.

A task is claimed before anything is sent: its attempt is counted and its next attempt pushed
out by the backoff in a committed transaction, conditional on the attempt count read. A run
killed mid-request leaves the task to come due again with the same idempotency key; two runs
at once cannot both claim one attempt. Only counts, times, status codes and decision reasons
are recorded, never a value sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.crm_delivery import retries
from cm_pipelines.domain.crm_delivery.requests import RECTIFY, Task
from cm_pipelines.tables.dsar import dsar_erasure_outbox, dsar_requests

PENDING = "pending"
CONFIRMED = "confirmed"
DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class DueTask:
    task: Task
    attempts: int


def due_tasks(connection: sa.Connection, now: datetime) -> list[DueTask]:
    """Pending tasks whose next attempt has come (or that never had one), oldest first."""
    outbox = dsar_erasure_outbox.c
    rows = connection.execute(
        sa.select(
            outbox.id,
            outbox.request_id,
            outbox.tenant_id,
            outbox.recipient,
            outbox.task,
            outbox.record_refs,
            outbox.attempts,
            outbox.next_attempt_at,
        )
        .where(outbox.status == PENDING)
        .order_by(outbox.id)
    ).all()
    due = [row for row in rows if retries.is_due(row.next_attempt_at, now)]
    corrections = _corrections(connection, {r.request_id for r in due if r.task == RECTIFY})
    return [
        DueTask(
            Task(
                task_id=int(row.id),
                request_id=str(row.request_id),
                tenant_id=str(row.tenant_id),
                recipient=str(row.recipient),
                kind=str(row.task),
                record_ids=tuple(str(ref) for ref in row.record_refs or ()),
                corrections=corrections.get(row.request_id, {}),
            ),
            int(row.attempts or 0),
        )
        for row in due
    ]


def _corrections(connection: sa.Connection, request_ids: set[str]) -> dict[str, dict[str, str]]:
    """The corrected contact details of rectification requests (``email``, ``e164``)."""
    if not request_ids:
        return {}
    rows = connection.execute(
        sa.select(dsar_requests.c.request_id, dsar_requests.c.rectification).where(
            dsar_requests.c.request_id.in_(sorted(request_ids))
        )
    )
    return {
        str(row.request_id): {
            k: str(v) for k, v in (row.rectification or {}).items() if k in ("email", "e164") and v
        }
        for row in rows
    }


def claim(
    connection: sa.Connection,
    due: DueTask,
    *,
    now: datetime,
    policy: retries.RetryPolicy,
    idempotency_key: str,
    connector: str,
) -> bool:
    """Count the attempt and push the next one out before sending; False when another run
    claimed it first (the attempt count moved) or it is no longer pending."""
    outbox = dsar_erasure_outbox
    attempt = due.attempts + 1
    claimed = connection.execute(
        sa.update(outbox)
        .where(
            outbox.c.id == due.task.task_id,
            outbox.c.status == PENDING,
            outbox.c.attempts == due.attempts,
        )
        .values(
            attempts=attempt,
            last_attempt_at=now,
            next_attempt_at=now + retries.backoff_delay(attempt, policy),
            idempotency_key=idempotency_key,
            connector=connector,
        )
    ).rowcount
    return claimed == 1


def record_outcome(
    connection: sa.Connection,
    task_id: int,
    decision: retries.Decision,
    status_code: int | None,
    now: datetime,
) -> bool:
    """What the attempt decided: confirmed, dead letter, or the next attempt's time (an
    authentication failure gives its attempt back: the task was not at fault). False when the
    task left ``pending`` meanwhile (a lifted restriction withdrew it): nothing is recorded."""
    outbox = dsar_erasure_outbox
    values: dict[str, Any] = {
        "last_status_code": status_code,
        "last_outcome": decision.reason[:64],
        "next_attempt_at": decision.next_attempt_at,
    }
    if decision.outcome == retries.DONE:
        values.update(status=CONFIRMED, sent_at=now, confirmed_at=now)
    elif decision.outcome == retries.DEAD_LETTER:
        values.update(status=DEAD_LETTER, dead_lettered_at=now)
    elif not decision.counts_as_attempt:
        values["attempts"] = outbox.c.attempts - 1
    updated = connection.execute(
        sa.update(outbox).where(outbox.c.id == task_id, outbox.c.status == PENDING).values(**values)
    ).rowcount
    return updated == 1
