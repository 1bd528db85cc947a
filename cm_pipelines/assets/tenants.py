"""The tenants table, loaded from the validated tenants YAML."""

import json
from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.resources.configuration import PlatformConfigResource, file_sha256
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables.calls import tenants as tenants_table


@dg.asset(group_name="platform", kinds={"python", "yaml"})
def tenants(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Client tenants and their approved retention models, as configured: the source of truth
    every tenant-scoped step reads its country, time zone and registries from."""
    warehouse.assert_schema_current()
    configured = platform_config.tenants()
    config_sha = file_sha256(platform_config.tenants_path())
    now = datetime.now(UTC)
    with warehouse.begin() as connection:
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
    removed = sorted(existing - {tenant.id for tenant in configured})
    if removed:
        context.log.warning(
            f"{len(removed)} tenant(s) are in the warehouse but no longer configured; "
            "their data is kept until retention or an operator removes it"
        )
    return dg.MaterializeResult(
        metadata={
            "tenant_count": len(configured),
            "tenant_ids": dg.MetadataValue.json(sorted(t.id for t in configured)),
            "unconfigured_tenants_in_warehouse": len(removed),
            "config_sha256": config_sha,
            "countries": dg.MetadataValue.json(
                json.loads(json.dumps(sorted({t.country for t in configured})))
            ),
        }
    )
