"""Retention schedules: the nightly purge, a run per tenant, then the day's states."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.platform.automation import schedule_status
from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.retention.jobs import retention_purge_job, retention_states_job
from cm_pipelines.retention.run_requests import purge_run_requests

retention_states_schedule = dg.ScheduleDefinition(
    name="retention_states_schedule",
    job=retention_states_job,
    cron_schedule="0 5 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Daily retention states and 7/30-day forecasts, after the night's purge.",
)


@dg.schedule(
    name="retention_purge_schedule",
    job=retention_purge_job,
    cron_schedule="30 2 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Nightly guarded purge, one run per tenant (cm/exclusive_tenant); a tenant whose "
    "previous purge is still in flight is skipped.",
)
def retention_purge_schedule(
    context: dg.ScheduleEvaluationContext, platform_config: PlatformConfigResource
):
    scheduled = context.scheduled_execution_time
    day = scheduled.date().isoformat() if scheduled else "manual"
    tenant_ids = [tenant.id for tenant in platform_config.tenants()]
    return purge_run_requests(context.instance, tenant_ids, day, retention_purge_job.name)
