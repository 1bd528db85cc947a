"""The purge's run config (set on ``retention_purge_plan``) and the ``PurgeSettings`` it becomes,
refused with every problem named when it is out of range."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cm_pipelines.domain.retention.circuit_breaker import (
    DEFAULT_MAX_PLAN_ITEMS,
    DEFAULT_MAX_TENANT_SHARE,
    BreakerLimits,
)
from cm_pipelines.retention.purge.settings import PurgeSettings


class RetentionPurgeConfig(dg.Config):
    """Run config of the purge (set on ``retention_purge_plan``)."""

    tenant: str = Field(default="", description="Purge only this tenant; empty: every tenant.")
    override_reason: str = Field(
        default="",
        description="Operator override of the circuit breaker: why. Stored on the plan, audited.",
    )
    override_by: str = Field(
        default="", description="Who asked for the override (set from its approval)."
    )
    override_approval: str = Field(
        default="",
        description="The approved approval (cm approve) an override runs under; an override "
        "without one is refused.",
    )
    max_tenant_share: float = Field(
        default=DEFAULT_MAX_TENANT_SHARE,
        description="Refuse when a tenant would lose more than this share of its live artefacts.",
    )
    max_plan_items: int = Field(
        default=DEFAULT_MAX_PLAN_ITEMS, description="Refuse a plan larger than this many artefacts."
    )
    object_batch_size: int = Field(default=1000, description="Objects per batch (1-1000).")
    row_batch_size: int = Field(default=10_000, description="Row-only artefacts per batch.")


def purge_settings(config: RetentionPurgeConfig, run_tags: dict[str, str]) -> PurgeSettings:
    problems = []
    if not 0 <= config.max_tenant_share <= 1:
        problems.append("max_tenant_share must be between 0 and 1")
    if config.max_plan_items < 0:
        problems.append("max_plan_items must be >= 0")
    if not 1 <= config.object_batch_size <= 1000:
        problems.append("object_batch_size must be 1-1000 (S3 DeleteObjects takes 1,000 keys)")
    if config.row_batch_size < 1:
        problems.append("row_batch_size must be >= 1")
    if len(config.override_reason) > 500:
        problems.append("override_reason must be at most 500 characters")
    if problems:
        raise dg.Failure(description="retention purge config refused: " + "; ".join(problems))
    reason = config.override_reason.strip() or None
    return PurgeSettings(
        tenant_id=config.tenant or None,
        limits=BreakerLimits(config.max_tenant_share, config.max_plan_items),
        object_batch_size=config.object_batch_size,
        row_batch_size=config.row_batch_size,
        override_reason=reason,
        override_by=(config.override_by or run_tags.get("cm/actor") or "unknown-operator")
        if reason
        else None,
    )
