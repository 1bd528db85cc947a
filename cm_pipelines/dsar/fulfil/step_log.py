"""The step log of a request (``dsar_steps``) and its per-store results (``dsar_store_results``).

A step that completed is recorded with its details in the same transaction as its effect, so a
re-run skips it ("resumed past") and reports what it recorded; the per-store results are what
``cm dsar status`` lists (found / acted / exempted, per phase). Ids and counts only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.request_changes import ACTOR_PIPELINE
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables.dsar import dsar_steps, dsar_store_results


def step_done(connection: sa.Connection, request_id: str, step: str) -> dict[str, Any] | None:
    """The details a completed step recorded, or None when it has not completed yet."""
    row = connection.execute(
        sa.select(dsar_steps.c.details).where(
            dsar_steps.c.request_id == request_id, dsar_steps.c.step == step
        )
    ).first()
    return None if row is None else dict(row[0])


def record_step(
    connection: sa.Connection,
    request_id: str,
    step: str,
    *,
    tenant_id: str,
    details: Mapping[str, Any],
    run_id: str | None,
    now: datetime | None = None,
) -> None:
    """Mark a step complete and audit it, in the caller's transaction (ids/counts only)."""
    connection.execute(
        sa.insert(dsar_steps).values(
            request_id=request_id,
            step=step,
            completed_at=now or datetime.now(UTC),
            run_id=run_id,
            details=dict(details),
        )
    )
    append_audit(
        connection,
        actor=ACTOR_PIPELINE,
        action=f"dsar.step.{step}"[:64],
        tenant_id=tenant_id,
        object_refs={"request_id": request_id},
        details=dict(details),
        run_id=run_id,
    )


def reopen_steps(connection: sa.Connection, request_id: str, steps: Sequence[str]) -> None:
    """Forget that ``steps`` completed, so the next pass runs them again."""
    connection.execute(
        sa.delete(dsar_steps).where(
            dsar_steps.c.request_id == request_id, dsar_steps.c.step.in_(list(steps))
        )
    )


def record_store_results(
    connection: sa.Connection,
    request_id: str,
    phase: str,
    results: Mapping[str, Mapping[str, Any]],
    run_id: str | None,
    now: datetime | None = None,
) -> None:
    """Replace the per-store results of one phase (found / acted / exempted and details)."""
    connection.execute(
        sa.delete(dsar_store_results).where(
            dsar_store_results.c.request_id == request_id, dsar_store_results.c.phase == phase
        )
    )
    rows = [
        {
            "request_id": request_id,
            "phase": phase,
            "store": store,
            "found": int(values.get("found", 0)),
            "acted": int(values.get("acted", 0)),
            "exempted": int(values.get("exempted", 0)),
            "details": dict(values.get("details", {})),
            "recorded_at": now or datetime.now(UTC),
            "run_id": run_id,
        }
        for store, values in sorted(results.items())
    ]
    if rows:
        connection.execute(sa.insert(dsar_store_results), rows)


def upsert_store_result(
    connection: sa.Connection,
    request_id: str,
    phase: str,
    store: str,
    *,
    found: int = 0,
    acted: int = 0,
    exempted: int = 0,
    details: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    """Set one store's result of one phase (execution records stores one at a time)."""
    key = (
        (dsar_store_results.c.request_id == request_id)
        & (dsar_store_results.c.phase == phase)
        & (dsar_store_results.c.store == store)
    )
    connection.execute(sa.delete(dsar_store_results).where(key))
    connection.execute(
        sa.insert(dsar_store_results).values(
            request_id=request_id,
            phase=phase,
            store=store,
            found=int(found),
            acted=int(acted),
            exempted=int(exempted),
            details=dict(details or {}),
            recorded_at=datetime.now(UTC),
            run_id=run_id,
        )
    )


def store_results(connection: sa.Connection, request_id: str) -> dict[str, dict[str, dict]]:
    """phase -> store -> {found, acted, exempted, details}."""
    rows = connection.execute(
        sa.select(dsar_store_results).where(dsar_store_results.c.request_id == request_id)
    ).mappings()
    results: dict[str, dict[str, dict]] = {}
    for row in rows:
        results.setdefault(row["phase"], {})[row["store"]] = {
            "found": row["found"],
            "acted": row["acted"],
            "exempted": row["exempted"],
            "details": row["details"],
        }
    return results


# ---------------------------------------------------------------- one fulfilment's steps


def skip(fulfilment: FulfilmentContext, step: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """Report ``step`` as resumed past (an earlier run completed it) with what it recorded."""
    fulfilment.report.steps_skipped.append(step)
    fulfilment.report.counts.setdefault(step, dict(details))
    return dict(details)


def resumed_past(fulfilment: FulfilmentContext, step: str) -> dict[str, Any] | None:
    """The details of ``step`` when an earlier run completed it (reported as skipped), else
    None: the step still has to run."""
    with fulfilment.warehouse.connect() as connection:
        details = step_done(connection, fulfilment.request_id, step)
    return None if details is None else skip(fulfilment, step, details)


def finish(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    step: str,
    details: Mapping[str, Any],
) -> None:
    """Record ``step`` complete in the caller's transaction (the one holding its effect)."""
    record_step(
        connection,
        fulfilment.request_id,
        step,
        tenant_id=fulfilment.tenant.id,
        details=details,
        run_id=fulfilment.run_id,
        now=fulfilment.clock(),
    )
    fulfilment.report.steps_run.append(step)
    fulfilment.report.counts[step] = dict(details)


def record_executed(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    store_name: str,
    acted: int,
    **details: Any,
) -> None:
    """Per-store result of the execution phase (what ``cm dsar status`` lists)."""
    upsert_store_result(
        connection,
        fulfilment.request_id,
        "execute",
        store_name,
        acted=acted,
        details=details,
        run_id=fulfilment.run_id,
    )
