"""The daily trust run, after the night's purges."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.platform.automation import schedule_status
from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE
from cm_pipelines.trust.jobs import trust_daily_job

trust_daily_schedule = dg.ScheduleDefinition(
    name="trust_daily_schedule",
    job=trust_daily_job,
    cron_schedule="30 6 * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Daily audit-chain verification and compliance overview, after the night's purges.",
)
