"""The one Definitions object of the code location."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.assets import calls, tenants
from cm_pipelines.jobs import ALL_JOBS
from cm_pipelines.quality_checks import calls as call_checks
from cm_pipelines.resources import default_resources
from cm_pipelines.schedules import ALL_SCHEDULES
from cm_pipelines.sensors import ALL_SENSORS

ASSET_MODULES = [tenants, calls]
CHECK_MODULES = [call_checks]

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(ASSET_MODULES),
    asset_checks=dg.load_asset_checks_from_modules(CHECK_MODULES),
    jobs=ALL_JOBS,
    schedules=ALL_SCHEDULES,
    sensors=ALL_SENSORS,
    resources=default_resources(),
)
