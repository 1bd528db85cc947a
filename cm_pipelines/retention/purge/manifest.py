"""The plan's manifest: a summary of what a plan will delete (counts per tenant and type, policy
versions, the items digest), stored under ``audit/retention/plans/`` before anything is
deleted."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.digests import canonical_json
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.retention.purge.plan_records import plan_items_frame, plan_row, set_plan

PLANS_PREFIX = f"{landing.AUDIT}/retention/plans"


def counts_by_tenant_type(items: pd.DataFrame) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    if items.empty:
        return counts
    for (tenant_id, record_type), count in (
        items.groupby(["tenant_id", "record_type"]).size().items()
    ):
        counts.setdefault(str(tenant_id), {})[str(record_type)] = int(count)
    return counts


def _manifest_summary(plan: dict[str, Any], items: pd.DataFrame) -> dict[str, Any]:
    versions = Counter(items["policy_version"].astype(str)) if not items.empty else Counter()
    return {
        "kind": "cm.retention.purge_plan",
        "format_version": 1,
        "plan_id": plan["plan_id"],
        "as_of": str(plan["as_of"]),
        "scope_tenant_id": plan["scope_tenant_id"],
        "created_at": str(plan["created_at"]),
        "created_run_id": plan["created_run_id"],
        "thresholds": plan["thresholds"],
        "tenant_totals": plan["tenant_totals"],
        "item_count": plan["item_count"],
        "object_count": plan["object_count"],
        "batch_count": plan["batch_count"],
        "items_sha256": plan["items_sha256"],
        "items_by_tenant_type": counts_by_tenant_type(items),
        "policy_versions": dict(sorted(versions.items())),
    }


def write_manifest(
    connection: sa.Connection,
    store: ObjectStoreResource,
    plan_id: str,
    items: pd.DataFrame | None = None,
) -> str:
    plan = plan_row(connection, plan_id)
    if items is None:
        items = plan_items_frame(connection, plan_id)
    path = f"{PLANS_PREFIX}/{plan_id}.json"
    store.write_bytes(path, canonical_json(_manifest_summary(plan, items)))
    set_plan(connection, plan_id, manifest_path=path)
    return path
