"""Ingestion schedules: the previous call day each night, and the recount of changed days."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.domain.ingestion.call_volumes import contiguous_ranges
from cm_pipelines.ingestion.jobs import call_ingestion_job, call_volumes_job
from cm_pipelines.ingestion.volumes import stale_call_days
from cm_pipelines.platform.automation import schedule_status
from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE
from cm_pipelines.platform.run_tags import partition_range_tags
from cm_pipelines.resources.warehouse import WarehouseResource

call_ingestion_schedule = dg.build_schedule_from_partitioned_job(
    call_ingestion_job,
    name="call_ingestion_schedule",
    hour_of_day=1,
    minute_of_hour=15,
    default_status=schedule_status(),
    description="Ingests the previous call day after the PBXs rotate their CDR files.",
)


@dg.schedule(
    name="call_volumes_schedule",
    job=call_volumes_job,
    cron_schedule="30 5 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Nightly recount of the call days whose volumes the night's purges and erasures "
    "changed (or never counted): one run per stretch of consecutive days.",
)
def call_volumes_schedule(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
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
