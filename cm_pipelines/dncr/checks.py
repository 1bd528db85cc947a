"""Blocking checks a registry candidate must pass before ``dncr_registry_promotion`` activates it.

They run inside ``dncr_registry_refresh_job`` (a blocking check only gates steps of its own run)
and judge what ``dncr_registry_snapshot`` measured while building the candidate: at 250M numbers
the measuring is done once, vectorised, while the numbers are in memory, instead of running a
row-wise expectation suite over a 250M-row frame. On a failure the candidate is marked rejected,
an audit entry names the check and why, the run fails with the same message, and the active
version stays active (promotion never runs; it also re-checks the recorded results itself).
The rules themselves live in ``cm_pipelines.dncr.refresh.candidate_checks``.
"""

# No ``from __future__ import annotations``: Dagster validates the multi-check's ``context``
# annotation at definition time and cannot resolve a string.
import dagster as dg

from cm_pipelines.dncr.evidence_in_force import registries_in_force, registries_in_use
from cm_pipelines.dncr.internal_list import late_entries
from cm_pipelines.dncr.refresh.candidate_checks import (
    CHECK_DESCRIPTIONS,
    CHECK_NAMES,
    judge_run_candidates,
)
from cm_pipelines.domain.operations.alerts import days_until_expiry, registries_expiring
from cm_pipelines.platform import settings
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.warehouse import WarehouseResource

SNAPSHOT_ASSET = "dncr_registry_snapshot"


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name, asset=SNAPSHOT_ASSET, blocking=True, description=description)
        for name, description in CHECK_DESCRIPTIONS.items()
    ],
    can_subset=False,
)
def dncr_registry_candidate_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    platform_config: PlatformConfigResource,
):
    """Judge every candidate this run built; reject (audited) those that fail."""
    registries = {registry.id: registry for registry in platform_config.registries()}
    judgement = judge_run_candidates(warehouse, registries, context.run.run_id)
    for name in CHECK_NAMES:
        results = judgement.by_check[name]
        failed_registries = sorted(r for r, item in results.items() if not item["passed"])
        yield dg.AssetCheckResult(
            check_name=name,
            asset_key=SNAPSHOT_ASSET,
            passed=not failed_registries,
            description=(
                "; ".join(f"{r}: {results[r]['reason']}" for r in failed_registries)
                if failed_registries
                else f"{len(results)} candidate(s) passed"
            ),
            metadata={"candidates": len(results), "results": dg.MetadataValue.json(results)},
        )
    if judgement.failures:
        raise dg.Failure(
            description="blocking registry check failed: " + " | ".join(judgement.failures)
        )


PROMOTION_ASSET = "dncr_registry_promotion"


@dg.asset_check(
    asset=PROMOTION_ASSET,
    description="Every registry a tenant washes against has a version in force whose evidence "
    "stays valid beyond CM_ALERT_REGISTRY_EXPIRY_DAYS (default 5): warns before it expires, "
    "fails once it has (washing then fails closed).",
)
def registry_evidence_in_force(
    warehouse: WarehouseResource, platform_config: PlatformConfigResource
) -> dg.AssetCheckResult:
    within = settings.alert_registry_expiry_days()
    used = registries_in_use(
        platform_config.registries(),
        (registry for tenant in platform_config.tenants() for registry in tenant.registries),
    )
    with warehouse.connect() as connection:
        in_force = registries_in_force(connection, used)
    expired, expiring = registries_expiring(in_force, within)
    days_left = {r.registry_id: days_until_expiry(r) for r in in_force}
    return dg.AssetCheckResult(
        passed=not expired and not expiring,
        severity=dg.AssetCheckSeverity.ERROR if expired else dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(expired)} registry(ies) expired or never loaded, {len(expiring)} expiring "
            f"within {within} day(s)"
        ),
        metadata={
            "registries": len(in_force),
            "expired": len(expired),
            "expiring": len(expiring),
            "within_days": within,
            "expired_registry_ids": dg.MetadataValue.json(expired),
            "expiring_registry_ids": dg.MetadataValue.json(expiring),
            "days_left": dg.MetadataValue.json(days_left),
        },
    )


@dg.asset_check(
    asset="dncr_internal_list",
    description="Every internal do-not-call entry was in effect by its honour-by deadline "
    "(10 business days from receipt, 47 CFR 64.1200(d)(3)).",
)
def dncr_internal_list_honoured_in_time(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Fails naming entry ids, tenants and sources (never a number or hash) of late entries."""
    with warehouse.connect() as connection:
        late = late_entries(connection)
    by_tenant: dict[str, int] = {}
    for entry in late:
        by_tenant[entry["tenant_id"]] = by_tenant.get(entry["tenant_id"], 0) + 1
    return dg.AssetCheckResult(
        passed=not late,
        description=(
            f"{len(late)} entr(ies) took effect after their honour-by deadline"
            if late
            else "every entry was in effect by its deadline"
        ),
        metadata={
            "late": len(late),
            "late_by_tenant": dg.MetadataValue.json(by_tenant),
            "late_entry_ids": dg.MetadataValue.json([entry["id"] for entry in late[:100]]),
        },
    )
