"""What a purge run asks for: its scope (one tenant or all), the circuit breaker's limits, batch
sizes, and an operator's override of the breaker (a reason and who gives it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cm_pipelines.domain.retention.circuit_breaker import BreakerLimits
from cm_pipelines.resources import object_purge


@dataclass(frozen=True)
class PurgeSettings:
    tenant_id: str | None = None
    limits: BreakerLimits = field(default_factory=BreakerLimits)
    object_batch_size: int = object_purge.MAX_KEYS_PER_REQUEST
    row_batch_size: int = 10_000
    override_reason: str | None = None
    override_by: str | None = None
