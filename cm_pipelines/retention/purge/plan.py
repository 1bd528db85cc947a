"""Plan: store the manifest of what is due before anything is deleted, or resume the open plan.

The plan is ``purge_plans`` + ``purge_plan_items`` + ``purge_batches`` and a summary under
``audit/retention/plans/`` (``purge.manifest``). Which plan a run works on (resume, supersede,
start) is decided under the scope lock (``purge.open_plans``). A resumed plan keeps its items,
with the ones now held or no longer due withdrawn (and said so). A plan the guard refused is
closed (``refused``); the next run plans afresh.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.digests import artefacts_digest
from cm_pipelines.domain.retention.purge_plan import plan_items
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.current_states import current_states, today_utc
from cm_pipelines.retention.policy_versions import SYSTEM_ACTOR, sync_policy_versions
from cm_pipelines.retention.purge.claims import (
    NO_CLAIM,
    ClaimPolicy,
    PurgeBusy,
    lock_scope,
    release_claim,
)
from cm_pipelines.retention.purge.guard import revalidate
from cm_pipelines.retention.purge.manifest import counts_by_tenant_type, write_manifest
from cm_pipelines.retention.purge.open_plans import claim_or_start
from cm_pipelines.retention.purge.plan_records import (
    PurgeRefused,
    plan_items_frame,
    plan_row,
    set_plan,
)
from cm_pipelines.retention.purge.settings import PurgeSettings
from cm_pipelines.tables.retention import purge_batches, purge_plan_items, purge_plans


@dataclass
class PlanOutcome:
    plan_id: str
    resumed: bool
    status: str
    item_count: int
    object_count: int
    batch_count: int
    items_sha256: str
    manifest_path: str | None
    withdrawn: Counter[str] = field(default_factory=Counter)
    superseded: list[str] = field(default_factory=list)
    by_tenant_type: dict[str, dict[str, int]] = field(default_factory=dict)


def prepare_plan(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    tenants: Sequence[Tenant],
    settings: PurgeSettings,
    *,
    run_id: str,
    hash_key: bytes,
    as_of: date | None = None,
    config_sha256: str | None = None,
    actor: str = SYSTEM_ACTOR,
    claims: ClaimPolicy | None = None,
) -> PlanOutcome:
    """Resume the open plan of this scope, or store a new manifest of what is due (nothing is
    deleted here). Refuses (``PurgeBusy``) while another run works on an overlapping plan."""
    as_of = as_of or today_utc()
    claims = claims or ClaimPolicy()
    known = {tenant.id for tenant in tenants}
    if settings.tenant_id is not None and settings.tenant_id not in known:
        raise PurgeRefused(f"tenant {settings.tenant_id} is not configured")
    in_scope = [t for t in tenants if settings.tenant_id in (None, t.id)]
    with warehouse.begin() as connection:
        lock_scope(connection, settings.tenant_id)
        # a tenant's purge records only its own tenant's policy changes
        sync_policy_versions(
            connection,
            in_scope,
            as_of=as_of,
            actor=actor,
            run_id=run_id,
            config_sha256=config_sha256,
        )
        resume, plan_id, superseded = claim_or_start(
            connection, settings, as_of=as_of, run_id=run_id, claims=claims, actor=actor
        )
    if resume is not None:
        try:
            return _resume_plan(
                warehouse, store, resume, superseded, as_of, run_id, hash_key, actor
            )
        except BaseException:
            release_claim(warehouse, resume["plan_id"], run_id)
            raise
    assert plan_id is not None
    try:
        return _store_new_plan(
            warehouse, store, settings, plan_id, superseded, known, as_of, run_id, hash_key, actor
        )
    except BaseException:
        with warehouse.begin() as connection:
            connection.execute(
                sa.update(purge_plans)
                .where(
                    purge_plans.c.plan_id == plan_id,
                    purge_plans.c.status == "planning",
                    purge_plans.c.claimed_by_run == run_id,
                )
                .values(status="abandoned", updated_at=datetime.now(UTC), **NO_CLAIM)
            )
        raise


# --- resume ----------------------------------------------------------------------------------


def _resume_plan(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    resume: dict[str, Any],
    superseded: list[str],
    as_of: date,
    run_id: str,
    hash_key: bytes,
    actor: str,
) -> PlanOutcome:
    withdrawn = revalidate(
        warehouse, resume["plan_id"], as_of=as_of, hash_key=hash_key, run_id=run_id
    )
    with warehouse.begin() as connection:
        manifest_path = resume["manifest_path"] or write_manifest(
            connection, store, resume["plan_id"]
        )
        append_audit(
            connection,
            actor=actor,
            action="retention.purge_resumed",
            object_refs={"plan_id": resume["plan_id"]},
            details={"withdrawn": dict(withdrawn), "status": resume["status"]},
            run_id=run_id,
        )
        items = plan_items_frame(connection, resume["plan_id"])
    return PlanOutcome(
        plan_id=resume["plan_id"],
        resumed=True,
        status=resume["status"],
        item_count=int(resume["item_count"]),
        object_count=int(resume["object_count"]),
        batch_count=int(resume["batch_count"]),
        items_sha256=resume["items_sha256"],
        manifest_path=manifest_path,
        withdrawn=withdrawn,
        superseded=superseded,
        by_tenant_type=counts_by_tenant_type(items),
    )


# --- a new plan ------------------------------------------------------------------------------


def _store_new_plan(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    settings: PurgeSettings,
    plan_id: str,
    superseded: list[str],
    known: set[str],
    as_of: date,
    run_id: str,
    hash_key: bytes,
    actor: str,
) -> PlanOutcome:
    items, totals = _due_items(warehouse, settings, known, as_of, hash_key)
    values: dict[str, Any] = {
        "status": "planned",
        "tenant_totals": totals,
        "item_count": int(len(items)),
        "object_count": int(items["object_path"].notna().sum()),
        "batch_count": int(items["batch_no"].max()) if not items.empty else 0,
        "items_sha256": artefacts_digest(items),
        "claim_heartbeat_at": datetime.now(UTC),
    }
    with warehouse.begin() as connection:
        lock_scope(connection, settings.tenant_id)
        current = plan_row(connection, plan_id)
        if current["status"] != "planning" or current["claimed_by_run"] != run_id:
            raise PurgeBusy(
                f"purge plan {plan_id} was taken over while run {run_id} was planning it "
                f"(now {current['status']}, claimed by {current['claimed_by_run'] or 'nobody'})"
            )
        set_plan(connection, plan_id, **values)
        if not items.empty:
            _insert_items_and_batches(connection, plan_id, items)
        append_audit(
            connection,
            actor=actor,
            action="retention.purge_planned",
            object_refs={"plan_id": plan_id},
            details={
                "as_of": as_of.isoformat(),
                "scope_tenant_id": settings.tenant_id,
                "items": values["item_count"],
                "objects": values["object_count"],
                "batches": values["batch_count"],
                "items_sha256": values["items_sha256"],
                "superseded": superseded,
            },
            run_id=run_id,
        )
    with warehouse.begin() as connection:
        manifest_path = write_manifest(connection, store, plan_id, items)
    return PlanOutcome(
        plan_id=plan_id,
        resumed=False,
        status="planned",
        item_count=values["item_count"],
        object_count=values["object_count"],
        batch_count=values["batch_count"],
        items_sha256=values["items_sha256"],
        manifest_path=manifest_path,
        superseded=superseded,
        by_tenant_type=counts_by_tenant_type(items),
    )


def _due_items(
    warehouse: WarehouseResource,
    settings: PurgeSettings,
    known: set[str],
    as_of: date,
    hash_key: bytes,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """What is due now in this scope, as plan items in batches, and each tenant's live and
    planned counts (what the circuit breaker will weigh)."""
    with warehouse.connect() as connection:
        states, _ = current_states(
            connection,
            as_of=as_of,
            hash_key=hash_key,
            tenant_ids=None if settings.tenant_id is None else {settings.tenant_id},
        )
    states = states.loc[states["tenant_id"].isin(known)]
    items = plan_items(
        states,
        tenant_id=settings.tenant_id,
        object_batch_size=settings.object_batch_size,
        row_batch_size=settings.row_batch_size,
    )
    live = states.loc[states["state"] != "purged"].groupby("tenant_id").size()
    planned = items.groupby("tenant_id").size() if not items.empty else pd.Series(dtype=int)
    totals = {
        str(tenant_id): {"live": int(count), "planned": int(planned.get(tenant_id, 0))}
        for tenant_id, count in live.items()
    }
    return items, totals


def _insert_items_and_batches(connection: sa.Connection, plan_id: str, items: pd.DataFrame) -> None:
    """The plan's items (``pending``) and one row per batch with its item and object counts."""
    rows = items.assign(plan_id=plan_id, status="pending")
    bulk_insert(connection, purge_plan_items, rows)
    batches = (
        items.assign(has_object=items["object_path"].notna())
        .groupby("batch_no")
        .agg(item_count=("item_no", "size"), object_count=("has_object", "sum"))
        .reset_index()
    )
    connection.execute(
        sa.insert(purge_batches),
        [
            {
                "plan_id": plan_id,
                "batch_no": int(row.batch_no),
                "item_count": int(row.item_count),
                "object_count": int(row.object_count),
                "status": "pending",
            }
            for row in batches.itertuples()
        ],
    )
