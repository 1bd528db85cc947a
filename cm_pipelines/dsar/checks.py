"""The SLA checks: an open request past its (extended) due date, one due soon, and a CCPA
request whose receipt was not acknowledged in time."""

from collections import Counter

import dagster as dg

from cm_pipelines.domain.dsar.operator import ACK_DUE, ACK_LATE, ACK_OVERDUE
from cm_pipelines.domain.operations.alerts import Deadline, deadlines_ahead
from cm_pipelines.dsar.sla import sla_rows
from cm_pipelines.platform import settings
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


@dg.asset_check(
    asset="dsar_sla",
    description="Warns while an open data-subject request is due within CM_ALERT_DSAR_DUE_DAYS "
    "(default 7) days, so it is finished before it becomes overdue.",
)
def dsar_deadlines_ahead(
    warehouse: WarehouseResource, platform_config: PlatformConfigResource
) -> dg.AssetCheckResult:
    within = settings.alert_dsar_due_days()
    rows = sla_rows(warehouse, platform_config.tenants_by_id())
    deadlines = [Deadline(r["request_id"], r["tenant_id"], r["days_left"]) for r in rows]
    overdue, due_soon = deadlines_ahead(deadlines, within)
    return dg.AssetCheckResult(
        passed=not due_soon,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(due_soon)} open request(s) due within {within} day(s)",
        metadata={
            "due_soon": len(due_soon),
            "overdue": len(overdue),
            "within_days": within,
            "due_soon_request_ids": dg.MetadataValue.json([d.request_id for d in due_soon]),
            "due_soon_by_tenant": dg.MetadataValue.json(
                dict(Counter(d.tenant_id for d in due_soon))
            ),
        },
    )


@dg.asset_check(
    asset="dsar_sla",
    description="Fails while an open CCPA request was not acknowledged within 10 business days "
    "of receipt (Cal. Code Regs. tit. 11, 7021); record one with cm dsar acknowledge ID.",
)
def dsar_acknowledged_in_time(
    warehouse: WarehouseResource, platform_config: PlatformConfigResource
) -> dg.AssetCheckResult:
    rows = sla_rows(warehouse, platform_config.tenants_by_id())
    by_status = Counter(row["acknowledgement"] for row in rows)
    missed = [row for row in rows if row["acknowledgement"] == ACK_OVERDUE]
    return dg.AssetCheckResult(
        passed=not missed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(missed)} open request(s) past their acknowledgement date",
        metadata={
            "unacknowledged_overdue": len(missed),
            "acknowledgement_due": by_status.get(ACK_DUE, 0),
            "acknowledged_late": by_status.get(ACK_LATE, 0),
            "unacknowledged_request_ids": dg.MetadataValue.json(
                [row["request_id"] for row in missed]
            ),
        },
    )
