"""Splitting one call day's tenants into slices that separate workers can ingest.

Most days are small and stay one slice; a day where one tenant landed gigabytes gives that tenant
a slice of its own, and the many small tenants around it share slices of about the same size,
so no worker waits on one giant step and a thousand tiny tenants do not become a thousand steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TenantSlice:
    """Tenants ingested together by one step, and the landed bytes they hold."""

    tenant_ids: tuple[str, ...]
    landed_bytes: int


def plan_tenant_slices(landed_bytes: Mapping[str, int], target_bytes: int) -> list[TenantSlice]:
    """Pack tenants into slices of at most ``target_bytes`` landed bytes each.

    A tenant at or above the target gets a slice of its own (a tenant is never split: its day is
    replaced as a whole). The rest are packed first-fit by descending size. Tenants with nothing
    landed still get a place, since ingesting them can clear stale rows. The plan depends only
    on its inputs, and slices come largest first so the longest step starts first.
    """
    if target_bytes <= 0:
        raise ValueError("target_bytes must be positive")
    if any(size < 0 for size in landed_bytes.values()):
        raise ValueError("landed byte counts cannot be negative")
    ordered = sorted(landed_bytes.items(), key=lambda item: (-item[1], item[0]))
    slices: list[tuple[int, list[str]]] = []
    for tenant_id, size in ordered:
        if size >= target_bytes:
            slices.append((size, [tenant_id]))
            continue
        for index, (total, members) in enumerate(slices):
            if total < target_bytes and total + size <= target_bytes:
                members.append(tenant_id)
                slices[index] = (total + size, members)
                break
        else:
            slices.append((size, [tenant_id]))
    planned = [TenantSlice(tuple(sorted(members)), total) for total, members in slices]
    return sorted(planned, key=lambda item: (-item.landed_bytes, item.tenant_ids))
