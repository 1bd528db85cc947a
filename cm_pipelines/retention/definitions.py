"""Everything retention shows in Dagster: states, the purge assets and their blocking guard,
jobs and schedules."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.retention import assets, checks
from cm_pipelines.retention.jobs import retention_purge_job, retention_states_job
from cm_pipelines.retention.schedules import retention_purge_schedule, retention_states_schedule

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    asset_checks=dg.load_asset_checks_from_modules([checks]),
    jobs=[retention_states_job, retention_purge_job],
    schedules=[retention_states_schedule, retention_purge_schedule],
)
