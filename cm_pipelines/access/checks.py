"""``support_reads_within_grants``: the hourly watch over support access, alerted like every
other watched check by ``operations_check_alert_sensor``."""

from __future__ import annotations

from collections import Counter

import dagster as dg

from cm_pipelines.access.grant_review import review_support_access
from cm_pipelines.access.support_grants import max_grant_hours
from cm_pipelines.resources.warehouse import WarehouseResource

SUPPORT_READS_CHECK = "support_reads_within_grants"


@dg.asset_check(
    asset="audit_chain",
    name=SUPPORT_READS_CHECK,
    description="Fails when an audited support read was outside its grant (other tenant or "
    "identity, a scope not granted, before the start, after expiry or revocation, or no such "
    "grant), or when a grant's window is longer than CM_SUPPORT_ACCESS_MAX_HOURS allows.",
)
def support_reads_within_grants(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as connection:
        review = review_support_access(connection, max_grant_hours())
    violations, overlong = review["violations"], review["overlong"]
    return dg.AssetCheckResult(
        passed=not violations and not overlong,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(violations)} support read(s) outside a grant, "
        f"{len(overlong)} grant(s) longer than allowed",
        metadata={
            "reads": review["reads"],
            "grants": review["grants"],
            "violations": len(violations),
            "violation_seqs": dg.MetadataValue.json([v["seq"] for v in violations[:50]]),
            "violations_by_reason": dg.MetadataValue.json(
                dict(Counter(v["why"] for v in violations))
            ),
            "overlong_grant_ids": dg.MetadataValue.json(overlong[:50]),
        },
    )
