"""The daily audit-chain check: the same verification as ``cm audit verify``, as an asset check.

Not blocking: the compliance overview downstream must still render and show the break.
"""

import dagster as dg

from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.trust.chain import verdict_metadata, verify_with_anchors


@dg.asset_check(
    asset="audit_chain",
    description="Every audit entry chains to the one before and every recorded anchor still matches.",
)
def audit_chain_intact(
    warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    verdict = verify_with_anchors(warehouse, object_store)
    return dg.AssetCheckResult(
        passed=verdict.ok,
        severity=dg.AssetCheckSeverity.ERROR,
        description=verdict.describe(),
        metadata=verdict_metadata(verdict),  # type: ignore[arg-type]
    )
