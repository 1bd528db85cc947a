"""Everything CRM delivery shows in Dagster: the delivery asset, its job and schedule, and the
connectors resource (HubSpot, signed webhook)."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.crm_delivery import assets
from cm_pipelines.crm_delivery.jobs import crm_delivery_job
from cm_pipelines.crm_delivery.schedules import crm_delivery_schedule
from cm_pipelines.resources.crm_connectors import CrmConnectorsResource

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    jobs=[crm_delivery_job],
    schedules=[crm_delivery_schedule],
    resources={"crm_connectors": CrmConnectorsResource()},
)
