"""The tenants table, kept in step with the validated tenants file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.tables.calls import tenants as tenants_table


def sync_tenants(
    connection: sa.Connection, configured: Sequence[Tenant], config_sha: str
) -> list[str]:
    """Insert or update every configured tenant; returns the ids of tenants the warehouse holds
    that are no longer configured (kept: their data goes by retention or an operator)."""
    now = datetime.now(UTC)
    existing = {row[0] for row in connection.execute(sa.select(tenants_table.c.tenant_id))}
    for tenant in configured:
        values = {
            "name": tenant.name,
            "country": tenant.country,
            "timezone": tenant.timezone,
            "jurisdictions": list(tenant.jurisdictions),
            "registries": list(tenant.registries),
            "retention_days": dict(tenant.retention_days),
            "config_sha256": config_sha,
            "updated_at": now,
        }
        if tenant.id in existing:
            connection.execute(
                sa.update(tenants_table)
                .where(tenants_table.c.tenant_id == tenant.id)
                .values(**values)
            )
        else:
            connection.execute(sa.insert(tenants_table).values(tenant_id=tenant.id, **values))
    return sorted(existing - {tenant.id for tenant in configured})
