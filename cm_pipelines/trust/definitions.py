"""Everything trust shows in Dagster: the audit chain and the compliance overview, the chain's
check, the daily job and its schedule."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.trust import assets, checks
from cm_pipelines.trust.jobs import trust_daily_job
from cm_pipelines.trust.schedules import trust_daily_schedule

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    asset_checks=dg.load_asset_checks_from_modules([checks]),
    jobs=[trust_daily_job],
    schedules=[trust_daily_schedule],
)
