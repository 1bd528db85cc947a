"""Everything DSAR shows in Dagster: the fulfilment job, the SLA and expiry assets with their
check, the hourly schedule and the intake sensor."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.dsar import assets, checks
from cm_pipelines.dsar.jobs import dsar_fulfillment_job, dsar_sla_job
from cm_pipelines.dsar.schedules import dsar_sla_schedule
from cm_pipelines.dsar.sensors import dsar_intake_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    asset_checks=dg.load_asset_checks_from_modules([checks]),
    jobs=[dsar_fulfillment_job, dsar_sla_job],
    schedules=[dsar_sla_schedule],
    sensors=[dsar_intake_sensor],
)
