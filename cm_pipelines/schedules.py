"""Schedules, each in an explicit time zone. Each capability adds its schedules to ``ALL_SCHEDULES``."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.jobs import call_ingestion_job, trust_daily_job

PLATFORM_TIMEZONE = "UTC"

call_ingestion_schedule = dg.build_schedule_from_partitioned_job(
    call_ingestion_job,
    name="call_ingestion_schedule",
    hour_of_day=1,
    minute_of_hour=15,
    description="Ingests the previous call day after the PBXs rotate their CDR files.",
)

trust_daily_schedule = dg.ScheduleDefinition(
    name="trust_daily_schedule",
    job=trust_daily_job,
    cron_schedule="30 6 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    description="Daily audit-chain verification and compliance overview, after the night's purges.",
)

ALL_SCHEDULES: list = [call_ingestion_schedule, trust_daily_schedule]

from cm_pipelines.jobs import retention_purge_job, retention_states_job  # noqa: E402

retention_states_schedule = dg.ScheduleDefinition(
    name="retention_states_schedule",
    job=retention_states_job,
    cron_schedule="0 5 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    description="Daily retention states and 7/30-day forecasts, after the night's purge.",
)


from cm_pipelines.resources import configuration as retention_configuration  # noqa: E402


@dg.schedule(
    name="retention_purge_schedule",
    job=retention_purge_job,
    cron_schedule="30 2 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    description="Nightly guarded purge, one run per tenant (cm/exclusive_tenant); a tenant whose "
    "previous purge is still in flight is skipped.",
)
def retention_purge_schedule(
    context: dg.ScheduleEvaluationContext,
    platform_config: retention_configuration.PlatformConfigResource,
):
    from cm_pipelines.assets.retention import purge_run_requests

    scheduled = context.scheduled_execution_time
    day = scheduled.date().isoformat() if scheduled else "manual"
    tenant_ids = [tenant.id for tenant in platform_config.tenants()]
    return purge_run_requests(context.instance, tenant_ids, day, retention_purge_job.name)


ALL_SCHEDULES += [retention_states_schedule, retention_purge_schedule]

from cm_pipelines.jobs import dsar_sla_job  # noqa: E402

dsar_sla_schedule = dg.ScheduleDefinition(
    name="dsar_sla_schedule",
    job=dsar_sla_job,
    cron_schedule="5 * * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    description="Hourly: open data-subject requests by days left; fails its check when overdue.",
)

ALL_SCHEDULES += [dsar_sla_schedule]

from cm_pipelines.jobs import call_volumes_job  # noqa: E402
from cm_pipelines.partitions import partition_range_tags  # noqa: E402
from cm_pipelines.resources.warehouse import WarehouseResource  # noqa: E402


@dg.schedule(
    name="call_volumes_schedule",
    job=call_volumes_job,
    cron_schedule="30 5 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    description="Nightly recount of the call days whose volumes the night's purges and erasures "
    "changed (or never counted): one run per stretch of consecutive days.",
)
def call_volumes_schedule(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    from cm_pipelines.assets.call_volumes import stale_call_days
    from cm_pipelines.domain.call_volumes import contiguous_ranges

    warehouse.assert_schema_current()
    with warehouse.connect() as connection:
        ranges = contiguous_ranges(stale_call_days(connection))
    if not ranges:
        return dg.SkipReason("every counted call day is current")
    scheduled = context.scheduled_execution_time
    tick = scheduled.date().isoformat() if scheduled else "manual"
    requests = []
    for first, last in ranges:
        run_key = f"call-volumes-{tick}-{first.isoformat()}-{last.isoformat()}"
        if first == last:
            requests.append(dg.RunRequest(run_key=run_key, partition_key=first.isoformat()))
        else:
            tags = partition_range_tags(first.isoformat(), last.isoformat())
            requests.append(dg.RunRequest(run_key=run_key, tags=tags))
    return requests


ALL_SCHEDULES += [call_volumes_schedule]

from cm_pipelines.jobs import dncr_registry_refresh_job  # noqa: E402
from cm_pipelines.resources.configuration import PlatformConfigResource  # noqa: E402


@dg.schedule(
    name="dncr_registry_refresh_schedule",
    job=dncr_registry_refresh_job,
    cron_schedule="15 7 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    description="Daily registry refresh, one run per registry so a bad file holds back only its own.",
)
def dncr_registry_refresh_schedule(
    context: dg.ScheduleEvaluationContext, platform_config: PlatformConfigResource
):
    from cm_pipelines.assets.dncr import refresh_run_requests

    scheduled = context.scheduled_execution_time
    day = scheduled.date().isoformat() if scheduled else "manual"
    return refresh_run_requests(platform_config, day)


ALL_SCHEDULES += [dncr_registry_refresh_schedule]

from cm_pipelines.jobs import housekeeping_job  # noqa: E402

housekeeping_schedule = dg.ScheduleDefinition(
    name="housekeeping_schedule",
    job=housekeeping_job,
    cron_schedule="0 6 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    description="Daily: step outputs of runs finished more than a week ago are deleted.",
)

ALL_SCHEDULES += [housekeeping_schedule]
