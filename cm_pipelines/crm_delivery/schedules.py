"""Every quarter hour: tasks whose next attempt has come are delivered."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.crm_delivery.jobs import crm_delivery_job
from cm_pipelines.platform.automation import schedule_status
from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE

crm_delivery_schedule = dg.ScheduleDefinition(
    name="crm_delivery_schedule",
    job=crm_delivery_job,
    cron_schedule="*/15 * * * *",
    execution_timezone=PLATFORM_TIMEZONE,
    default_status=schedule_status(),
    description="Every 15 minutes: due DSAR tasks for CRM systems delivered, retried or "
    "dead-lettered (the backoff decides which are due).",
)
