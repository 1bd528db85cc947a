"""Everything operations shows in Dagster: freshness checks, the hourly watch job and its
schedule, and the sensors that evaluate freshness and send alerts."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.operations.checks import dsar_crm_tasks_delivered, freshness_checks
from cm_pipelines.operations.jobs import operations_watch_job
from cm_pipelines.operations.schedules import operations_watch_schedule
from cm_pipelines.operations.sensors import (
    operations_check_alert_sensor,
    operations_freshness_sensor,
    operations_run_failure_alerts,
)

defs = dg.Definitions(
    asset_checks=[*freshness_checks, dsar_crm_tasks_delivered],
    jobs=[operations_watch_job],
    schedules=[operations_watch_schedule],
    sensors=[
        operations_run_failure_alerts,
        operations_check_alert_sensor,
        operations_freshness_sensor,
    ],
)
