"""The daily registry refresh: one run per registry, so a bad file holds back only its own."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.dncr.jobs import dncr_registry_refresh_job
from cm_pipelines.dncr.run_config import refresh_run_requests
from cm_pipelines.platform.automation import schedule_status
from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE
from cm_pipelines.resources.configuration import PlatformConfigResource


@dg.schedule(
    name="dncr_registry_refresh_schedule",
    job=dncr_registry_refresh_job,
    cron_schedule="15 7 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Daily registry refresh, one run per registry so a bad file holds back only its own.",
)
def dncr_registry_refresh_schedule(
    context: dg.ScheduleEvaluationContext, platform_config: PlatformConfigResource
):
    scheduled = context.scheduled_execution_time
    day = scheduled.date().isoformat() if scheduled else "manual"
    return refresh_run_requests(platform_config, day)
