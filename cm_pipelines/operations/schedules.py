"""The hourly watch run."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.operations.jobs import operations_watch_job
from cm_pipelines.platform.automation import schedule_status
from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE

operations_watch_schedule = dg.ScheduleDefinition(
    name="operations_watch_schedule",
    job=operations_watch_job,
    cron_schedule="20 * * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Hourly: DSAR deadlines ahead and overdue, registry evidence near expiry, DSAR "
    "tasks for CRMs stuck pending.",
)
