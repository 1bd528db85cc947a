"""The post-call audit in Dagster: one partition per call day, its check, job and schedule.

``dncr_post_call_audit`` matches every outbound campaign call of the day against the decision in
force when it was placed and the callee's calling window (``domain.dncr.post_call_audit``). Its
check ``dncr_post_call_violations`` is evaluated in the same run and fails when the day holds
any violation; ``operations_check_alert_sensor`` watches it, so a call that bypassed the
do-not-call workflow alerts (tenant ids, call ids and counts only).
"""

# No ``from __future__ import annotations``: Dagster validates the ``context`` annotation at
# definition time and cannot resolve a string.
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from cm_pipelines.dncr.post_call_audit import audit_tenant_day, violations_of_day
from cm_pipelines.domain.dncr.post_call_audit import REASONS
from cm_pipelines.platform import settings
from cm_pipelines.platform.automation import schedule_status
from cm_pipelines.platform.partitions import (
    PLATFORM_TIMEZONE,
    call_day_backfill,
    call_day_partitions,
)
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.warehouse import WarehouseResource

POST_CALL_ASSET = "dncr_post_call_audit"
POST_CALL_CHECK = "dncr_post_call_violations"
MAX_IDS = 100


@dg.asset(
    name=POST_CALL_ASSET,
    group_name="dncr",
    partitions_def=call_day_partitions,
    backfill_policy=call_day_backfill,
    deps=["call_records", "dncr_wash_results", "dncr_internal_list"],
    kinds={"python"},
    check_specs=[
        dg.AssetCheckSpec(
            POST_CALL_CHECK,
            asset=POST_CALL_ASSET,
            description="No outbound campaign call of the day went to a blocked or internally "
            "listed number, without valid do-not-call evidence, or outside the callee's "
            "calling window.",
        )
    ],
)
def dncr_post_call_audit(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platform_config: PlatformConfigResource,
):
    """Each outbound campaign call of the call day against the decision in force when it was
    placed (wash result or check record, with its valid_until), the internal list in effect and
    the callee's calling window; violations stored per call and reason (keyed hash only) and
    counted per tenant."""
    warehouse.assert_schema_current()
    day = date.fromisoformat(context.partition_key)
    key = settings.identifier_hash_key()
    now = datetime.now(UTC)
    per_tenant: dict[str, dict[str, int]] = {}
    for tenant in platform_config.tenants():
        audit = audit_tenant_day(
            warehouse, tenant, day, key=key, run_id=context.run.run_id, now=now
        )
        per_tenant[tenant.id] = {
            "calls_audited": audit.calls_audited,
            "calls_skipped": audit.calls_skipped,
            "calls_in_violation": audit.calls_in_violation,
            "violations": audit.violations,
            **audit.by_reason,
        }
    with warehouse.connect() as connection:
        found = violations_of_day(connection, day)
    yield dg.MaterializeResult(
        metadata={
            "calls_audited": sum(t["calls_audited"] for t in per_tenant.values()),
            "violations": len(found),
            **{
                f"{tenant_id}/{name}": value
                for tenant_id, counts in sorted(per_tenant.items())
                for name, value in counts.items()
            },
        }
    )
    yield _check_result(day, found)


def _check_result(day: date, found: list[dict]) -> dg.AssetCheckResult:
    """Tenant ids, call ids and counts per reason: never a number or hash."""
    by_tenant: dict[str, dict[str, int]] = {}
    for row in found:
        counts = by_tenant.setdefault(row["tenant_id"], dict.fromkeys(REASONS, 0))
        counts[row["reason"]] += 1
    call_ids = sorted({f"{row['tenant_id']}:{row['call_id']}" for row in found})
    return dg.AssetCheckResult(
        check_name=POST_CALL_CHECK,
        asset_key=POST_CALL_ASSET,
        passed=not found,
        description=(
            f"{day.isoformat()}: {len(found)} violation(s) in {len(call_ids)} call(s)"
            if found
            else f"{day.isoformat()}: every outbound campaign call had a decision allowing it"
        ),
        metadata={
            "violations": len(found),
            "violations_by_tenant": dg.MetadataValue.json(by_tenant),
            "call_ids": dg.MetadataValue.json(call_ids[:MAX_IDS]),
        },
    )


dncr_post_call_audit_job = dg.define_asset_job(
    name="dncr_post_call_audit_job",
    selection=dg.AssetSelection.assets(POST_CALL_ASSET),
    partitions_def=call_day_partitions,
    description="Audit the outbound campaign calls of a call day against the do-not-call "
    "decisions in force when they were placed and the callees' calling windows.",
    tags={"cm/capability": "dncr"},
)


@dg.schedule(
    name="dncr_post_call_audit_schedule",
    job=dncr_post_call_audit_job,
    cron_schedule="45 4 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Audits the previous call day once it is ingested (re-running a day replaces "
    "its findings).",
)
def dncr_post_call_audit_schedule(context: dg.ScheduleEvaluationContext):
    scheduled = context.scheduled_execution_time or datetime.now(UTC)
    day = (scheduled.date() - timedelta(days=1)).isoformat()
    return dg.RunRequest(run_key=f"post-call-audit-{day}", partition_key=day)
