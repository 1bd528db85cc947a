"""Policy versions in the warehouse: read them, record what the tenants file implies, and record
an operator's version; every recorded version is audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa

from cm_pipelines.domain.retention.policies import PolicyVersion, versions_to_record
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.locks import lock_partition
from cm_pipelines.tables.retention import retention_policy_versions

SYSTEM_ACTOR = "system:retention"
"""Who retention's own writes are recorded as: versions from the tenants file, the purge."""


def load_policy_versions(connection: sa.Connection) -> list[PolicyVersion]:
    t = retention_policy_versions
    return [
        PolicyVersion(
            row.tenant_id,
            row.record_type,
            int(row.version),
            int(row.retention_days),
            row.effective_from
            if isinstance(row.effective_from, date)
            else date.fromisoformat(str(row.effective_from)),
            row.source,
        )
        for row in connection.execute(
            sa.select(
                t.c.tenant_id,
                t.c.record_type,
                t.c.version,
                t.c.retention_days,
                t.c.effective_from,
                t.c.source,
            )
        )
    ]


def sync_policy_versions(
    connection: sa.Connection,
    tenants: Sequence[Tenant],
    *,
    as_of: date,
    actor: str = SYSTEM_ACTOR,
    run_id: str | None = None,
    config_sha256: str | None = None,
) -> list[PolicyVersion]:
    """Record the versions the tenants file implies (first versions, changed days); audited.

    Two transactions syncing one tenant at once (a tenant's purge and the daily states) take
    turns on a per-tenant advisory lock (PostgreSQL; SQLite has one writer), each reading the
    versions only once it holds it, so neither records a version the other just did."""
    for tenant_id in sorted({tenant.id for tenant in tenants}):
        lock_partition(connection, tenant_id, scope="retention_policy")
    new = versions_to_record(tenants, load_policy_versions(connection), as_of)
    now = datetime.now(UTC)
    for version in new:
        connection.execute(
            sa.insert(retention_policy_versions).values(
                tenant_id=version.tenant_id,
                record_type=version.record_type,
                version=version.version,
                retention_days=version.retention_days,
                effective_from=version.effective_from,
                source=version.source,
                config_sha256=config_sha256,
                recorded_at=now,
                recorded_by=actor,
                run_id=run_id,
            )
        )
        append_audit(
            connection,
            actor=actor,
            action="retention.policy_version_recorded",
            tenant_id=version.tenant_id,
            object_refs={"policy_version": version.id},
            details={
                "record_type": version.record_type,
                "retention_days": version.retention_days,
                "effective_from": version.effective_from.isoformat(),
                "source": version.source,
            },
            run_id=run_id,
        )
    return new


def record_operator_policy(
    connection: sa.Connection,
    *,
    tenant_id: str,
    record_type: str,
    retention_days: int,
    effective_from: date,
    actor: str,
    run_id: str | None = None,
) -> PolicyVersion:
    """A version an operator records (never retroactive: ``effective_from`` not in the past)."""
    if effective_from < datetime.now(UTC).date():
        raise ValueError("a policy version cannot take effect in the past")
    if retention_days < 0:
        raise ValueError("retention days must be >= 0")
    existing = [
        v
        for v in load_policy_versions(connection)
        if v.tenant_id == tenant_id and v.record_type == record_type
    ]
    version = PolicyVersion(
        tenant_id,
        record_type,
        max((v.version for v in existing), default=0) + 1,
        retention_days,
        effective_from,
        "operator",
    )
    connection.execute(
        sa.insert(retention_policy_versions).values(
            tenant_id=tenant_id,
            record_type=record_type,
            version=version.version,
            retention_days=retention_days,
            effective_from=effective_from,
            source="operator",
            config_sha256=None,
            recorded_at=datetime.now(UTC),
            recorded_by=actor,
            run_id=run_id,
        )
    )
    append_audit(
        connection,
        actor=actor,
        action="retention.policy_version_recorded",
        tenant_id=tenant_id,
        object_refs={"policy_version": version.id},
        details={
            "record_type": record_type,
            "retention_days": retention_days,
            "effective_from": effective_from.isoformat(),
            "source": "operator",
        },
        run_id=run_id,
    )
    return version
