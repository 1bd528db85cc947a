"""Each registry's version in force and how long its evidence stays valid (the watch on
registry expiry: a refresh that stopped shows before washing has to fail closed)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa

from cm_pipelines.dncr.refresh.registry_versions import active_version, as_utc
from cm_pipelines.domain.dncr.evidence import local_day
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.operations.alerts import RegistryInForce


def registries_in_force(
    connection: sa.Connection, registries: Iterable[Registry], now: datetime | None = None
) -> list[RegistryInForce]:
    """Per registry: its active version's data day (None when no version is in force) and
    today, both where the registry dates its files."""
    now = now or datetime.now(UTC)
    found = []
    for registry in registries:
        row = active_version(connection, registry.id)
        data_as_of = as_utc(row["data_as_of"]) if row else None
        found.append(
            RegistryInForce(
                registry_id=registry.id,
                validity_days=registry.validity_days,
                data_as_of=local_day(registry, data_as_of) if data_as_of else None,
                today=local_day(registry, now),
            )
        )
    return found


def registries_in_use(
    registries: Iterable[Registry], tenant_registries: Iterable[str]
) -> list[Registry]:
    """The configured registries at least one tenant washes against."""
    used = set(tenant_registries)
    return [registry for registry in registries if registry.id in used]
