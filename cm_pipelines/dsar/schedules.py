"""The hourly SLA sweep: open requests by days left, and expired packages deleted."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.dsar.jobs import dsar_sla_job
from cm_pipelines.platform.automation import schedule_status
from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE

dsar_sla_schedule = dg.ScheduleDefinition(
    name="dsar_sla_schedule",
    job=dsar_sla_job,
    cron_schedule="5 * * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Hourly: open data-subject requests by days left; fails its check when overdue.",
)
