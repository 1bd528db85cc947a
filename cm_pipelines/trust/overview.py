"""The compliance overview's figures, read from every capability's tables within one tenant.

Capabilities deploy independently, so the overview reads defensively: it first inspects the
deployed schema, and a section whose tables (or columns) are not there yet is left out and
named, rather than failing the page. Registry versions are shared by every tenant; everything
else is read for one tenant at a time.
"""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.domain.trust.compliance_overview import (
    DUE_SOON_DAYS,
    ActiveHold,
    OpenDsar,
    PurgeSummary,
    RegistryEvidence,
    TenantOverview,
)
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.tables import dncr, dsar, retention

CLOSED_DSAR_STATES = ("completed", "refused")
COMPLETED_PURGE_STATES = ("completed", "completed_with_failures")


def _live_columns(connection: sa.Connection) -> dict[str, set[str]]:
    """The deployed schema: every table's column names."""
    inspector = sa.inspect(connection)
    return {
        name: {column["name"] for column in inspector.get_columns(name)}
        for name in inspector.get_table_names()
    }


def _ready(live: dict[str, set[str]], table: sa.Table, *columns: str) -> bool:
    """Whether the deployed schema has this table with these columns (all of them if none named)."""
    wanted = set(columns) or {column.name for column in table.columns}
    return wanted <= live.get(table.name, set())


def _as_date(value: object) -> date | None:
    """A day from whatever the database returns (SQLite may hand back text)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _active_version(connection: sa.Connection, registry_id: str) -> tuple[str, date] | None:
    """The registry's active version and the day its data describes (registries are shared)."""
    table = dncr.registry_versions
    row = connection.execute(
        sa.select(table.c.version_id, table.c.data_as_of)
        .where(table.c.registry_id == registry_id, table.c.status == "active")
        .order_by(table.c.activated_at.desc())
        .limit(1)
    ).first()
    return (str(row.version_id), _as_date(row.data_as_of)) if row else None  # type: ignore[return-value]


def _registry_evidence(
    connection: sa.Connection,
    tenant: Tenant,
    validity: dict[str, int],
    as_of: date,
    versions_ready: bool,
) -> list[RegistryEvidence]:
    """Per registry: the active version's data day (else the newest evidence washing used)."""
    table = dncr.wash_results
    evidence = []
    for registry_id in tenant.registries:
        base = sa.and_(
            table.c.tenant_id == tenant.id,
            table.c.registry_id == registry_id,
            table.c.deleted_at.is_(None),
        )
        active = _active_version(connection, registry_id) if versions_ready else None
        if active is None:
            newest = connection.execute(
                sa.select(table.c.registry_version, table.c.evidence_date)
                .where(base, table.c.evidence_date.is_not(None))
                .order_by(table.c.evidence_date.desc(), table.c.id.desc())
                .limit(1)
            ).first()
            if newest is not None:
                active = (str(newest.registry_version), _as_date(newest.evidence_date))  # type: ignore[assignment]
        expired = connection.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(base, table.c.valid_until < datetime.combine(as_of, datetime.min.time(), UTC))
        ).scalar_one()
        evidence.append(
            RegistryEvidence(
                registry_id=registry_id,
                validity_days=validity.get(registry_id, 0),
                evidence_date=active[1] if active else None,
                version=active[0][:16] if active else None,
                results_past_validity=int(expired),
            )
        )
    return evidence


def _wash_outcomes(connection: sa.Connection, tenant_id: str) -> dict[tuple[str, str], int]:
    """Live wash results counted by (decision, reason)."""
    table = dncr.wash_results
    rows = connection.execute(
        sa.select(table.c.decision, table.c.reason, sa.func.count())
        .where(table.c.tenant_id == tenant_id, table.c.deleted_at.is_(None))
        .group_by(table.c.decision, table.c.reason)
    )
    return {(str(decision), str(reason)): int(count) for decision, reason, count in rows}


def _post_call_violations(connection: sa.Connection, tenant_id: str) -> dict[str, int]:
    """Post-call audit violations held for the tenant, by reason code."""
    table = dncr.dncr_post_call_violations
    rows = connection.execute(
        sa.select(table.c.reason, sa.func.count())
        .where(table.c.tenant_id == tenant_id)
        .group_by(table.c.reason)
    )
    return {str(reason): int(count) for reason, count in rows}


def _retention(
    connection: sa.Connection, tenant_id: str, as_of: date
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Artefacts counted by record type and state, and the active ones expiring within
    ``DUE_SOON_DAYS`` by record type."""
    table = retention.retention_states
    states: dict[str, dict[str, int]] = defaultdict(dict)
    for record_type, state, count in connection.execute(
        sa.select(table.c.record_type, table.c.state, sa.func.count())
        .where(table.c.tenant_id == tenant_id)
        .group_by(table.c.record_type, table.c.state)
    ):
        states[str(record_type)][str(state)] = int(count)
    due_soon = {
        str(record_type): int(count)
        for record_type, count in connection.execute(
            sa.select(table.c.record_type, sa.func.count())
            .where(
                table.c.tenant_id == tenant_id,
                table.c.state == "active",
                table.c.expires_on.is_not(None),
                table.c.expires_on <= as_of + timedelta(days=DUE_SOON_DAYS),
            )
            .group_by(table.c.record_type)
        )
    }
    return dict(states), due_soon


def _open_dsars(connection: sa.Connection, tenant_id: str) -> list[OpenDsar]:
    """Requests not completed or refused, due on their extended date when there is one."""
    table = dsar.dsar_requests
    rows = connection.execute(
        sa.select(
            table.c.request_id,
            table.c.request_type,
            table.c.state,
            table.c.due_date,
            table.c.extended_due_date,
        ).where(table.c.tenant_id == tenant_id, table.c.state.not_in(CLOSED_DSAR_STATES))
    )
    return [
        OpenDsar(
            request_id=str(row.request_id),
            request_type=str(row.request_type),
            state=str(row.state),
            due_date=_as_date(row.extended_due_date or row.due_date),  # type: ignore[arg-type]
            extended=row.extended_due_date is not None,
        )
        for row in rows
    ]


def _holds(connection: sa.Connection, tenant_id: str) -> list[ActiveHold]:
    """Legal holds not released."""
    table = retention.legal_holds
    rows = connection.execute(
        sa.select(table.c.hold_id, table.c.scope, table.c.created_at, table.c.created_by).where(
            table.c.tenant_id == tenant_id, table.c.released_at.is_(None)
        )
    )
    return [
        ActiveHold(str(r.hold_id), str(r.scope), _as_date(r.created_at), str(r.created_by))  # type: ignore[arg-type]
        for r in rows
    ]


def _last_purge(connection: sa.Connection, tenant_id: str) -> PurgeSummary | None:
    """The newest completed purge that touched the tenant, with how many of its items it purged
    and its proof of deletion."""
    plans, items = retention.purge_plans, retention.purge_plan_items
    has_items = (
        sa.select(items.c.plan_id)
        .where(items.c.plan_id == plans.c.plan_id, items.c.tenant_id == tenant_id)
        .exists()
    )
    plan = connection.execute(
        sa.select(plans)
        .where(
            plans.c.status.in_(COMPLETED_PURGE_STATES),
            sa.or_(plans.c.scope_tenant_id == tenant_id, plans.c.scope_tenant_id.is_(None)),
            has_items,
        )
        .order_by(plans.c.completed_at.desc(), plans.c.created_at.desc())
        .limit(1)
    ).first()
    if plan is None:
        return None
    purged = connection.execute(
        sa.select(sa.func.count())
        .select_from(items)
        .where(
            items.c.plan_id == plan.plan_id,
            items.c.tenant_id == tenant_id,
            items.c.status == "purged",
        )
    ).scalar_one()
    return PurgeSummary(
        plan_id=str(plan.plan_id),
        status=str(plan.status),
        as_of=_as_date(plan.as_of),  # type: ignore[arg-type]
        completed_on=_as_date(plan.completed_at),
        items_for_tenant=int(purged),
        proof_path=plan.proof_path,
        proof_sha256=plan.proof_sha256,
    )


def _tenant_day(tenant: Tenant, configured: date | None) -> date:
    """The configured page day, else today in the tenant's own time zone."""
    return configured or datetime.now(ZoneInfo(tenant.timezone)).date()


def collect_overviews(
    connection: sa.Connection,
    tenants: list[Tenant],
    validity: dict[str, int],
    configured_day: date | None,
) -> tuple[list[TenantOverview], list[str]]:
    """Every tenant's overview, and the sections whose tables are not deployed yet."""
    live = _live_columns(connection)
    wash_ready = _ready(live, dncr.wash_results)
    retention_ready = _ready(live, retention.retention_states)
    dsar_ready = _ready(live, dsar.dsar_requests)
    holds_ready = _ready(live, retention.legal_holds)
    purge_ready = _ready(live, retention.purge_plans) and _ready(live, retention.purge_plan_items)
    post_call_ready = _ready(live, dncr.dncr_post_call_violations)
    missing = [
        section
        for section, ready in (
            ("registry_evidence", wash_ready),
            ("wash_outcomes", wash_ready),
            ("retention", retention_ready),
            ("dsars", dsar_ready),
            ("holds", holds_ready),
            ("purges", purge_ready),
            ("post_call_audit", post_call_ready),
        )
        if not ready
    ]
    overviews = []
    for tenant in tenants:
        day = _tenant_day(tenant, configured_day)
        overview = TenantOverview(tenant.id, tenant.name, local_date=day)
        if wash_ready:
            overview.registries = _registry_evidence(
                connection, tenant, validity, day, _ready(live, dncr.registry_versions)
            )
            overview.wash_outcomes = _wash_outcomes(connection, tenant.id)
        if retention_ready:
            overview.retention_states, overview.retention_due_soon = _retention(
                connection, tenant.id, day
            )
        if dsar_ready:
            overview.open_dsars = _open_dsars(connection, tenant.id)
        if holds_ready:
            overview.holds = _holds(connection, tenant.id)
        if post_call_ready:
            overview.post_call_violations = _post_call_violations(connection, tenant.id)
        if purge_ready:
            overview.purges_available = True
            overview.last_purge = _last_purge(connection, tenant.id)
        overviews.append(overview)
    return overviews, missing


def registry_validity(platform_config: PlatformConfigResource) -> dict[str, int]:
    """Days a wash result stays valid, per registry, as configured."""
    return {registry.id: registry.validity_days for registry in platform_config.registries()}
