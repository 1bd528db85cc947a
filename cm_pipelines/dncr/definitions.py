"""Everything do-not-call shows in Dagster: registry refresh and washing assets, the
promotion's blocking checks, the post-call audit, jobs, the daily schedule and the source sensor."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.dncr import assets, checks, post_call_assets
from cm_pipelines.dncr.jobs import dncr_registry_refresh_job, dncr_wash_job
from cm_pipelines.dncr.post_call_assets import (
    dncr_post_call_audit_job,
    dncr_post_call_audit_schedule,
)
from cm_pipelines.dncr.schedules import dncr_registry_refresh_schedule
from cm_pipelines.dncr.sensors import dncr_registry_source_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets, post_call_assets]),
    asset_checks=dg.load_asset_checks_from_modules([checks]),
    jobs=[dncr_registry_refresh_job, dncr_wash_job, dncr_post_call_audit_job],
    schedules=[dncr_registry_refresh_schedule, dncr_post_call_audit_schedule],
    sensors=[dncr_registry_source_sensor],
)
