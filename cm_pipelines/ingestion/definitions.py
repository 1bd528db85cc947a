"""Everything ingestion shows in Dagster: call-day assets and volumes, their checks, jobs and
schedules."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.ingestion import assets, checks
from cm_pipelines.ingestion.jobs import call_ingestion_job, call_volumes_job, tenants_sync_job
from cm_pipelines.ingestion.schedules import call_ingestion_schedule, call_volumes_schedule

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    asset_checks=dg.load_asset_checks_from_modules([checks]),
    jobs=[tenants_sync_job, call_ingestion_job, call_volumes_job],
    schedules=[call_ingestion_schedule, call_volumes_schedule],
)
