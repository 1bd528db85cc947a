"""The dry run behind ``cm retention plan``: what a purge would take today and why (groups by
tenant, type, policy version and basis; holds past expiry; policy changes not yet recorded; the
circuit breaker), writing nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd

from cm_pipelines.domain.retention.circuit_breaker import BreakerLimits, evaluate_breaker
from cm_pipelines.domain.retention.policies import PolicyVersion, versions_to_record
from cm_pipelines.domain.retention.purge_plan import plan_items
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.current_states import current_states, today_utc
from cm_pipelines.retention.policy_versions import load_policy_versions
from cm_pipelines.retention.purge.plan_records import PurgeRefused


def dry_run(
    warehouse: WarehouseResource,
    tenants: Sequence[Tenant],
    *,
    hash_key: bytes,
    tenant_id: str | None = None,
    limits: BreakerLimits | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """What a purge would take today and why, writing nothing: policy changes in the tenants
    file not yet recorded are applied as they would be (effective today)."""
    as_of = as_of or today_utc()
    limits = limits or BreakerLimits()
    known = {tenant.id for tenant in tenants}
    if tenant_id is not None and tenant_id not in known:
        raise PurgeRefused(f"tenant {tenant_id} is not configured")
    with warehouse.connect() as connection:
        unrecorded = versions_to_record(tenants, load_policy_versions(connection), as_of)
        states, _ = current_states(
            connection,
            as_of=as_of,
            hash_key=hash_key,
            tenant_ids=None if tenant_id is None else {tenant_id},
            extra_versions=unrecorded,
        )
    states = states.loc[states["tenant_id"].isin(known)]
    items = plan_items(states, tenant_id=tenant_id)
    return {
        "as_of": as_of.isoformat(),
        "scope_tenant_id": tenant_id,
        "would_purge": int(len(items)),
        "objects": int(items["object_path"].notna().sum()) if not items.empty else 0,
        "groups": _groups(items),
        "held_past_expiry": _held_past_expiry(states, as_of),
        "unrecorded_policy_changes": _unrecorded_changes(unrecorded),
        "breaker": _breaker(states, items, limits),
    }


def _groups(items: pd.DataFrame) -> list[dict[str, Any]]:
    """What would go, by tenant, record type, policy version and basis."""
    groups = []
    if not items.empty:
        grouped = items.assign(has_object=items["object_path"].notna()).groupby(
            ["tenant_id", "record_type", "policy_version", "basis"]
        )
        for (tenant, record_type, version, basis), group in grouped:
            groups.append(
                {
                    "tenant_id": tenant,
                    "record_type": record_type,
                    "policy_version": version,
                    "basis": basis,
                    "artefacts": int(len(group)),
                    "objects": int(group["has_object"].sum()),
                    "oldest_expiry": str(min(group["expires_on"])),
                }
            )
    return groups


def _held_past_expiry(states: pd.DataFrame, as_of: date) -> dict[str, int]:
    """Artefacts a legal hold keeps past their expiry, per tenant and record type."""
    expired = pd.to_datetime(states["expires_on"]).le(pd.Timestamp(as_of)).fillna(False)
    held = states.loc[(states["state"] == "held") & expired]
    return {
        f"{tenant}/{record_type}": int(count)
        for (tenant, record_type), count in held.groupby(["tenant_id", "record_type"])
        .size()
        .items()
    }


def _unrecorded_changes(unrecorded: Sequence[PolicyVersion]) -> list[dict[str, Any]]:
    return [
        {"policy_version": v.id, "retention_days": v.retention_days}
        for v in unrecorded
        if v.version > 1
    ]


def _breaker(states: pd.DataFrame, items: pd.DataFrame, limits: BreakerLimits) -> dict[str, Any]:
    """Whether the circuit breaker would trip on this plan, and why."""
    live = states.loc[states["state"] != "purged"].groupby("tenant_id").size()
    planned = items.groupby("tenant_id").size() if not items.empty else pd.Series(dtype=int)
    verdict = evaluate_breaker(
        {str(k): int(v) for k, v in planned.items()},
        {str(k): int(v) for k, v in live.items()},
        limits,
    )
    return {
        "would_trip": verdict.tripped,
        "reasons": list(verdict.reasons),
        "tenant_shares": verdict.tenant_shares,
        "limits": {
            "max_tenant_share": limits.max_tenant_share,
            "max_plan_items": limits.max_plan_items,
        },
    }
