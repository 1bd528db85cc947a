"""The proof-of-deletion document: what a plan deleted, counted per tenant and type, under which
policy versions, with digests that tie it to the plan's manifest and tombstones. Ids, counts
and hashes only: no personal data."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from cm_pipelines.domain.retention.digests import artefacts_digest


def proof_document(
    plan: Mapping[str, Any],
    items: pd.DataFrame,
    tombstones: pd.DataFrame,
    *,
    objects_verified_absent: int,
    objects_still_present: int,
    run_ids: Sequence[str],
    proof_run_id: str,
    proved_at: str,
) -> dict[str, Any]:
    """The proof-of-deletion manifest: counts per tenant and type, policy versions, digests.

    ``items`` are the plan's items with their final ``status``; ``tombstones`` the plan's
    tombstones. Holds ids, counts and hashes only.
    """
    by_tenant, purged_objects = _counts_by_tenant(items)
    statuses = Counter(items["status"]) if not items.empty else Counter()
    versions = (
        Counter(tombstones["policy_version"].astype(str)) if not tombstones.empty else Counter()
    )
    return {
        "kind": "cm.retention.proof_of_deletion",
        "format_version": 1,
        "plan_id": plan["plan_id"],
        "as_of": str(plan["as_of"]),
        "scope_tenant_id": plan.get("scope_tenant_id"),
        "planned_at": str(plan.get("created_at")),
        "proved_at": proved_at,
        "proof_run_id": proof_run_id,
        "run_ids": sorted(set(run_ids)),
        "thresholds": plan.get("thresholds") or {},
        "override": _override(plan),
        "totals": {
            "planned": int(len(items)),
            "purged": int(statuses.get("purged", 0)),
            "withdrawn": int(statuses.get("withdrawn", 0)),
            "failed": int(statuses.get("failed", 0)),
            "already_gone": int(statuses.get("already_gone", 0)),
            "pending": int(statuses.get("pending", 0)),
            "tombstones": int(len(tombstones)),
            "objects_deleted": int(purged_objects.sum()) if len(purged_objects) else 0,
            "objects_verified_absent": int(objects_verified_absent),
            "objects_still_present": int(objects_still_present),
        },
        "by_tenant": by_tenant,
        "policy_versions": dict(sorted(versions.items())),
        "plan_items_sha256": plan.get("items_sha256"),
        "tombstones_sha256": artefacts_digest(tombstones),
        "tombstones_sha256_by_tenant_type": _digests_by_tenant_type(tombstones),
    }


def _counts_by_tenant(
    items: pd.DataFrame,
) -> tuple[dict[str, dict[str, dict[str, int]]], pd.Series]:
    """Items per tenant, type and final status, with the objects deleted per tenant and type
    (also returned on their own, for the totals)."""
    by_tenant: dict[str, dict[str, dict[str, int]]] = {}
    for (tenant_id, record_type, status), count in (
        items.groupby(["tenant_id", "record_type", "status"]).size().items()
        if not items.empty
        else []
    ):
        entry = by_tenant.setdefault(str(tenant_id), {}).setdefault(str(record_type), {})
        entry[str(status)] = int(count)
    purged_objects = (
        items.loc[(items["status"] == "purged") & items["object_path"].notna()]
        .groupby(["tenant_id", "record_type"])
        .size()
        if not items.empty
        else pd.Series(dtype=int)
    )
    for (tenant_id, record_type), count in purged_objects.items():
        by_tenant[str(tenant_id)][str(record_type)]["objects_deleted"] = int(count)
    return by_tenant, purged_objects


def _digests_by_tenant_type(tombstones: pd.DataFrame) -> dict[str, dict[str, str]]:
    digests: dict[str, dict[str, str]] = {}
    if not tombstones.empty:
        for (tenant_id, record_type), group in tombstones.groupby(["tenant_id", "record_type"]):
            digests.setdefault(str(tenant_id), {})[str(record_type)] = artefacts_digest(group)
    return digests


def _override(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Whether an operator overrode the circuit breaker, by whom; the reason only as a hash."""
    return {
        "used": bool(plan.get("override_reason")),
        "reason_sha256": (
            hashlib.sha256(str(plan["override_reason"]).encode()).hexdigest()
            if plan.get("override_reason")
            else None
        ),
        "by": plan.get("override_by"),
    }
