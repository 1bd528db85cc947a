"""DSAR assets: open requests by days left (its check fails when one is overdue), and the
expiry of access packages.

One request's fulfilment is a job of ops, not an asset (``cm_pipelines.dsar.ops``): it acts on
one request at a time, launched by ``cm dsar run``, the intake sensor or the launchpad.
"""

from collections import Counter
from datetime import UTC, datetime

import dagster as dg

from cm_pipelines.dsar.evidence_retention import purge_expired_evidence
from cm_pipelines.dsar.export_expiry import expire_packages
from cm_pipelines.dsar.sla import sla_rows, sla_table
from cm_pipelines.platform import settings
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource

DSAR_GROUP = "dsar"


@dg.asset(group_name=DSAR_GROUP, kinds={"python"}, tags={"cm/capability": "dsar"})
def dsar_sla(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Open data-subject requests by days left on their statutory clock (ids only)."""
    warehouse.assert_schema_current()
    rows = sla_rows(warehouse, platform_config.tenants_by_id())
    overdue = [row for row in rows if row["days_left"] < 0]
    if overdue:
        context.log.warning(f"{len(overdue)} data-subject request(s) overdue")
    return dg.MaterializeResult(
        metadata={
            "open_requests": len(rows),
            "overdue": len(overdue),
            "due_within_7_days": sum(1 for row in rows if 0 <= row["days_left"] <= 7),
            "unacknowledged_overdue": sum(1 for row in rows if row["acknowledgement"] == "overdue"),
            "soonest_days_left": rows[0]["days_left"] if rows else dg.MetadataValue.null(),
            "by_state": dg.MetadataValue.json(dict(Counter(row["state"] for row in rows))),
            "requests": dg.MetadataValue.md(sla_table(rows)),
        }
    )


@dg.asset(group_name=DSAR_GROUP, kinds={"python"}, tags={"cm/capability": "dsar"})
def dsar_export_expiry(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Access packages past their expiry are deleted from the exports prefix (confirmed gone);
    evidence of requests done more than CM_DSAR_EVIDENCE_YEARS ago is purged with a proof."""
    warehouse.assert_schema_current()
    outcome = expire_packages(warehouse, object_store, context.run_id)
    if outcome.failed:
        context.log.warning(f"{outcome.failed} expired package(s) could not be deleted yet")
    evidence = purge_expired_evidence(
        warehouse,
        object_store,
        now=datetime.now(UTC),
        years=settings.dsar_evidence_years(),
        run_id=context.run_id,
    )
    return dg.MaterializeResult(
        metadata={
            "expired": outcome.expired,
            "deleted": outcome.deleted,
            "failed": outcome.failed,
            "evidence_purged": len(evidence.purged),
            "evidence_rows_by_table": dg.MetadataValue.json(evidence.rows_by_table),
            "evidence_manifest": evidence.manifest_path or dg.MetadataValue.null(),
        }
    )
