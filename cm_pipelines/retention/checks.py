"""The purge guard: a blocking check on the plan, so execution only runs in the same run after it.

It re-derives each pending item's state from the warehouse now (a hold added after planning, a
policy lengthened, a bug in planning would all show) and applies the circuit breaker to the
plan's per-tenant shares and size. An operator override (run config with a reason) lets a
tripped breaker pass and is audited; held or not-yet-due items are never overridable.
"""

import dagster as dg

from cm_pipelines.platform import settings
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.purge.guard import guard_plan
from cm_pipelines.retention.purge.plan_records import plan_for_run


@dg.asset_check(asset="retention_purge_plan", blocking=True)
def retention_purge_guard(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Nothing planned is held or younger than its policy, and no tenant loses more than the
    configured share (default 20%) nor the plan exceeds its ceiling, unless overridden."""
    plan = plan_for_run(warehouse, context.run.run_id)
    outcome = guard_plan(
        warehouse,
        plan["plan_id"],
        hash_key=settings.identifier_hash_key(),
        run_id=context.run.run_id,
    )
    if not outcome.passed:
        context.log.error(
            f"purge plan {outcome.plan_id} refused: {outcome.held} held, {outcome.not_due} "
            f"not due, breaker: {'; '.join(outcome.breaker.reasons) or 'ok'}"
        )
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
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
