"""The purge's circuit breaker: refuse a plan that takes too large a share of a tenant's live
artefacts, or too many artefacts in all (an operator may override it, audited, elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_MAX_TENANT_SHARE = 0.20
DEFAULT_MAX_PLAN_ITEMS = 250_000


@dataclass(frozen=True)
class BreakerLimits:
    max_tenant_share: float = DEFAULT_MAX_TENANT_SHARE
    max_plan_items: int = DEFAULT_MAX_PLAN_ITEMS


@dataclass(frozen=True)
class BreakerVerdict:
    tripped: bool
    reasons: tuple[str, ...]
    tenant_shares: dict[str, float] = field(default_factory=dict)
    plan_items: int = 0


def evaluate_breaker(
    planned_by_tenant: Mapping[str, int],
    live_by_tenant: Mapping[str, int],
    limits: BreakerLimits,
) -> BreakerVerdict:
    """Refuse a plan that takes more than ``max_tenant_share`` of any tenant's live artefacts, or
    more than ``max_plan_items`` in all. Live counts include the planned artefacts."""
    reasons: list[str] = []
    shares: dict[str, float] = {}
    for tenant_id in sorted(planned_by_tenant):
        planned = int(planned_by_tenant[tenant_id])
        live = int(live_by_tenant.get(tenant_id, 0))
        share = planned / live if live > 0 else (1.0 if planned else 0.0)
        shares[tenant_id] = round(share, 6)
        if share > limits.max_tenant_share:
            reasons.append(
                f"tenant {tenant_id} would lose {share:.1%} of its {live} live artefacts "
                f"(limit {limits.max_tenant_share:.0%})"
            )
    total = int(sum(planned_by_tenant.values()))
    if total > limits.max_plan_items:
        reasons.append(f"plan holds {total} artefacts (ceiling {limits.max_plan_items})")
    return BreakerVerdict(bool(reasons), tuple(reasons), shares, total)
