"""Deliver the outbox: every due task to its CRM, one claimed attempt at a time.

For each due task with a connector: claim the attempt (committed), send its requests in order
and stop at the first that is not done, decide with ``domain.crm_delivery.retries``, and record
the outcome with its evidence. A recipient that refuses our credentials is not called again in
this run (every task would fail the same way); its tasks keep their attempts and wait.
A task that cannot become a request (no record ids left, nothing the CRM can rectify) is a
dead letter at once: sending it again cannot help, and a person must look.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cm_pipelines.crm_delivery import confirmations, outbox
from cm_pipelines.domain.crm_delivery import retries
from cm_pipelines.domain.crm_delivery.requests import Task, TaskShapeError, idempotency_key
from cm_pipelines.resources.crm_connectors import CrmConnectorsResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource


@dataclass
class DeliveryReport:
    """What a run did, by outcome and recipient: counts and ids only."""

    due: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_recipient: Counter[str] = field(default_factory=Counter)
    no_connector: Counter[str] = field(default_factory=Counter)
    auth_failed: set[str] = field(default_factory=set)
    confirmed_ids: list[int] = field(default_factory=list)
    dead_letter_ids: list[int] = field(default_factory=list)
    certificates_amended: int = 0


@dataclass(frozen=True)
class _Delivery:
    """What every attempt of one run works with."""

    warehouse: WarehouseResource
    object_store: ObjectStoreResource
    connectors: CrmConnectorsResource
    policy: retries.RetryPolicy
    run_id: str | None
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class _Attempted:
    outcome: str
    certified: bool = False


def deliver_due(
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    connectors: CrmConnectorsResource,
    *,
    run_id: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DeliveryReport:
    """One pass over the due tasks; safe to re-run at any time (claims, idempotency keys)."""
    run = _Delivery(warehouse, object_store, connectors, connectors.policy(), run_id, clock)
    report = DeliveryReport()
    with warehouse.connect() as connection:
        due = outbox.due_tasks(connection, clock())
    report.due = len(due)
    for item in due:
        recipient = item.task.recipient
        connector = connectors.connector_for(recipient)
        if connector is None:
            report.no_connector[recipient] += 1
            continue
        if recipient in report.auth_failed:
            report.outcomes["skipped_after_auth_failure"] += 1
            continue
        attempted = _attempt(run, item, connector)
        report.outcomes[attempted.outcome] += 1
        report.by_recipient[f"{recipient}/{attempted.outcome}"] += 1
        if attempted.outcome == retries.AUTH_FAILURE:
            report.auth_failed.add(recipient)
        elif attempted.outcome == retries.DONE:
            report.confirmed_ids.append(item.task.task_id)
            report.certificates_amended += int(attempted.certified)
        elif attempted.outcome == retries.DEAD_LETTER:
            report.dead_letter_ids.append(item.task.task_id)
    return report


def _attempt(run: _Delivery, item: outbox.DueTask, connector: str) -> _Attempted:
    task = item.task
    with run.warehouse.begin() as connection:
        claimed = outbox.claim(
            connection,
            item,
            now=run.clock(),
            policy=run.policy,
            idempotency_key=idempotency_key(task),
            connector=connector,
        )
    if not claimed:
        return _Attempted("claimed_elsewhere")
    attempt = item.attempts + 1
    try:
        planned = run.connectors.plan(connector, task)
    except TaskShapeError:
        unsendable = retries.Decision(retries.DEAD_LETTER, None, "unsendable_task")
        return _finish(run, task, unsendable, None, connector, attempt)
    decision, status = retries.Decision(retries.DONE, None, "no_requests"), None
    for request in planned:
        response = run.connectors.send(connector, request)
        status = response.status
        decision = retries.decide(
            response,
            attempt,
            run.clock(),
            run.policy,
            absent_is_done=request.path.endswith("/gdpr-delete"),  # a contact already gone
        )
        if decision.outcome != retries.DONE:
            break
    return _finish(run, task, decision, status, connector, attempt)


def _finish(
    run: _Delivery,
    task: Task,
    decision: retries.Decision,
    status: int | None,
    connector: str,
    attempt: int,
) -> _Attempted:
    now = run.clock()
    certified = False
    ended = {retries.DONE: "confirmed", retries.DEAD_LETTER: "dead_letter"}.get(decision.outcome)
    with run.warehouse.begin() as connection:
        if not outbox.record_outcome(connection, task.task_id, decision, status, now):
            return _Attempted("no_longer_pending")
        if ended is not None:
            confirmations.audit_end(
                connection,
                task,
                action=f"dsar.crm_task.{ended}",
                attempts=attempt,
                connector=connector,
                status_code=status,
                reason=decision.reason,
                run_id=run.run_id,
            )
        if decision.outcome == retries.DONE:
            certified = confirmations.certify_confirmation(
                connection, run.object_store, task, now.date().isoformat()
            )
    return _Attempted(decision.outcome, certified)
