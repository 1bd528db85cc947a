"""The purge guard: a blocking check on the plan, so execution only runs in the same run after it.

It re-derives each pending item's state from the warehouse now (a hold added after planning, a
policy lengthened, a bug in planning would all show) and applies the circuit breaker to the
plan's per-tenant shares and size. An operator override (run config with a reason) lets a
tripped breaker pass and is audited; held or not-yet-due items are never overridable.

A refusal records the check result, then fails the step with the one-line reason, so the run's
failure message in the UI says why (not only that a blocking check failed).
"""

from collections.abc import Iterator

import dagster as dg

from cm_pipelines.platform import settings
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.purge.guard import guard_plan
from cm_pipelines.retention.purge.plan_records import plan_for_run


# Dagster runs a check that yields its result and then raises; its type hints only name `return`.
@dg.asset_check(asset="retention_purge_plan", blocking=True)  # type: ignore[arg-type]
def retention_purge_guard(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """Nothing planned is held or younger than its policy, and no tenant loses more than the
    configured share (default 20%) nor the plan exceeds its ceiling, unless overridden."""
    plan = plan_for_run(warehouse, context.run.run_id)
    outcome = guard_plan(
        warehouse,
        plan["plan_id"],
        hash_key=settings.identifier_hash_key(),
        run_id=context.run.run_id,
    )
    reason = (
        f"purge plan {outcome.plan_id} refused: {outcome.held} held, {outcome.not_due} "
        f"not due, breaker: {'; '.join(outcome.breaker.reasons) or 'ok'}"
    )
    if not outcome.passed:
        context.log.error(reason)
    yield dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=reason if not outcome.passed else f"purge plan {outcome.plan_id} may proceed",
        metadata={
            "plan_id": outcome.plan_id,
            "pending_items": outcome.pending,
            "held_items": outcome.held,
            "not_due_items": outcome.not_due,
            "breaker_tripped": outcome.breaker.tripped,
            "breaker_reasons": dg.MetadataValue.json(list(outcome.breaker.reasons)),
            "tenant_shares": dg.MetadataValue.json(outcome.breaker.tenant_shares),
            "plan_items": outcome.breaker.plan_items,
            "override_used": outcome.overridden,
        },
    )
    if not outcome.passed:
        raise dg.Failure(description=reason, allow_retries=False)
