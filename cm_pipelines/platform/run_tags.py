"""Run tags the run queue, the backfill helpers and the guards agree on, in one place."""

from __future__ import annotations

BACKFILL_TAG = "cm/backfill"
EXCLUSIVE_TENANT_TAG = "cm/exclusive_tenant"
ALL_TENANTS = "*"
"""Value of ``cm/exclusive_tenant`` for a run that touches every tenant."""


def exclusive_tenant_tags(tenant_id: str | None) -> dict[str, str]:
    """Tags that keep two runs touching one tenant out of each other's way in the run queue
    (``deploy/*.yaml``: one run per unique value of ``cm/exclusive_tenant``)."""
    return {EXCLUSIVE_TENANT_TAG: tenant_id or ALL_TENANTS}


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run of an asset job cover every partition from ``first`` to
    ``last`` (what a single-run backfill launches)."""
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
