"""Everything housekeeping shows in Dagster: step-output expiry, its job and schedule."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.housekeeping import assets
from cm_pipelines.housekeeping.jobs import housekeeping_job
from cm_pipelines.housekeeping.schedules import housekeeping_schedule

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    jobs=[housekeeping_job],
    schedules=[housekeeping_schedule],
)
