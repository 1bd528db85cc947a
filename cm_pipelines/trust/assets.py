"""Trust: the daily audit-chain verification and the compliance overview page.

``audit_chain`` walks the hash chain against the anchors kept in the object store and, when it
is intact, records the new head as an anchor (so tomorrow's run can see entries cut off the
end). ``compliance_overview`` reads every capability's tables — defensively, since capabilities
deploy independently (``overview``) — and renders one Markdown page plus a PNG chart for a
privacy officer (``overview_page``).
"""

from datetime import UTC, date, datetime

import dagster as dg
from pydantic import Field

from cm_pipelines.domain.trust.compliance_overview import summary_counts, tenant_counts
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.trust.chain import record_anchor, verdict_metadata, verify_with_anchors
from cm_pipelines.trust.overview import collect_overviews, registry_validity
from cm_pipelines.trust.overview_page import audit_status, write_overview_page

TRUST_GROUP = "trust"


@dg.asset(group_name=TRUST_GROUP, kinds={"python"}, tags={"cm/capability": "trust"})
def audit_chain(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """The audit log's hash chain, verified against earlier anchors; an intact head is anchored
    in the object store and the verification itself is appended to the log."""
    warehouse.assert_schema_current()
    verdict = verify_with_anchors(warehouse, object_store)
    anchor_path = None
    if verdict.ok:
        anchor_path = record_anchor(object_store, verdict, run_id=context.run.run_id)
        with warehouse.begin() as connection:
            append_audit(
                connection,
                actor=f"dagster:{context.job_name}",
                action="audit.chain_verified",
                object_refs={"anchor": anchor_path, "head_hash": verdict.head_hash},
                details={
                    "head_seq": verdict.head_seq,
                    "anchors_checked": verdict.anchors_checked,
                },
                run_id=context.run.run_id,
            )
        context.log.info(verdict.describe())
    else:
        context.log.error(verdict.describe())
    metadata: dict[str, object] = verdict_metadata(verdict)
    metadata["anchor_path"] = anchor_path or "not anchored"
    return dg.MaterializeResult(metadata=metadata)  # type: ignore[arg-type]


# --- compliance overview ------------------------------------------------------------------------


class OverviewConfig(dg.Config):
    as_of: str = Field(
        default="", description="Page date YYYY-MM-DD; empty means today (each tenant's own day)."
    )


@dg.asset(
    group_name=TRUST_GROUP,
    deps=[audit_chain],
    kinds={"python", "markdown"},
    tags={"cm/capability": "trust"},
)
def compliance_overview(
    context: dg.AssetExecutionContext,
    config: OverviewConfig,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """One page per platform for a privacy officer: per tenant, registry evidence age against its
    validity, wash outcomes by reason, retention states and what is due soon, open DSARs by days
    left, legal holds, the last purge and its proof; plus a PNG chart, kept in the object store
    and shown inside the page in the UI, and the figures as numbers the UI plots over time."""
    warehouse.assert_schema_current()
    configured_day = date.fromisoformat(config.as_of) if config.as_of else None
    page_day = configured_day or datetime.now(UTC).date()
    tenants = platform_config.tenants()
    validity = registry_validity(platform_config)
    with warehouse.connect() as connection:
        overviews, missing = collect_overviews(connection, tenants, validity, configured_day)
    verdict = verify_with_anchors(warehouse, object_store)
    written = write_overview_page(object_store, overviews, page_day, audit_status(verdict))
    counts = summary_counts(overviews, page_day)
    if counts["overdue_dsars"]:
        context.log.warning(f"{counts['overdue_dsars']} DSAR(s) past their statutory deadline")
    if not verdict.ok:
        context.log.error(verdict.describe())
    # Whole numbers under stable keys (platform totals, then "<tenant>/<figure>"): the asset's
    # Plots tab in the UI draws each over time.
    plotted = {name: dg.MetadataValue.int(value) for name, value in counts.items()}
    for tenant_id, figures in tenant_counts(overviews, page_day).items():
        plotted |= {f"{tenant_id}/{name}": dg.MetadataValue.int(v) for name, v in figures.items()}
    return dg.MaterializeResult(
        metadata={
            "overview": dg.MetadataValue.md(written.page),
            "chart_path": written.chart_path,
            "report_path": written.report_path,
            "page_date": page_day.isoformat(),
            "audit_chain_ok": verdict.ok,
            "sections_not_available": dg.MetadataValue.json(sorted(set(missing))),
            "counts": dg.MetadataValue.json(counts),
            **plotted,
        }
    )
