"""The SLA check: fails while any open request is past its (extended) due date."""

import dagster as dg

from cm_pipelines.dsar.sla import sla_rows
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.warehouse import WarehouseResource


@dg.asset_check(
    asset="dsar_sla",
    description="Fails when an open data-subject request is past its (extended) due date.",
)
def dsar_none_overdue(
    warehouse: WarehouseResource, platform_config: PlatformConfigResource
) -> dg.AssetCheckResult:
    rows = sla_rows(warehouse, platform_config.tenants_by_id())
    overdue = [row for row in rows if row["days_left"] < 0]
    return dg.AssetCheckResult(
        passed=not overdue,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "overdue": len(overdue),
            "overdue_request_ids": dg.MetadataValue.json([row["request_id"] for row in overdue]),
            "most_days_overdue": -min((row["days_left"] for row in overdue), default=0),
        },
    )
