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

from cm_pipelines.dncr.refresh.candidate_checks import (
    CHECK_DESCRIPTIONS,
    CHECK_NAMES,
    judge_run_candidates,
)
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
