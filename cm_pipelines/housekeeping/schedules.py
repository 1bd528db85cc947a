"""The daily housekeeping run."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.housekeeping.jobs import housekeeping_job
from cm_pipelines.platform.automation import schedule_status
from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE

housekeeping_schedule = dg.ScheduleDefinition(
    name="housekeeping_schedule",
    job=housekeeping_job,
    cron_schedule="0 6 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Daily: step outputs of runs finished more than a week ago are deleted.",
)
