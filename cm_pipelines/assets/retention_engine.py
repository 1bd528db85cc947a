"""The purge, in four resumable steps: plan, guard, execute in batches, prove.

* **plan** stores the manifest (``purge_plans`` + ``purge_plan_items`` + ``purge_batches`` and a
  summary under ``audit/retention/plans/``) before anything is deleted. A plan that was approved
  or had started executing is *resumed* by the next run, whatever that run asked for, never
  replaced: the same items, with the ones now held or no longer due withdrawn (and said so).
  A plan killed before its guard finished is resumed by a run with the same day, scope and
  limits; any other run marks it ``superseded`` (nothing of it was deleted) and plans afresh.
  A plan the guard refused is closed (``refused``); the next run plans afresh.
* **guard** re-derives every pending item's state: nothing held, nothing not yet due, and the
  circuit breaker (share of each tenant's live artefacts, absolute ceiling) unless the plan
  carries an operator override, which is audited when it is used.
* **execute** takes one batch at a time: mark it ``deleting``, delete its objects and confirm
  each is gone (``resources.object_purge``), then in one transaction mark the rows purged
  (``deleted_at`` set, personal columns wiped), write tombstones and record each item's
  outcome. An object that refuses deletion keeps its row live and is reported.
* **prove** verifies the deleted objects are absent, writes the proof-of-deletion manifest
  under ``audit/retention/proofs/`` and appends an audit entry.

Killed anywhere and run again, a plan finishes as planned: items already purged are never
touched again (their status, ``deleted_at IS NULL`` guards and a unique tombstone per artefact),
an object deleted before the kill is found absent and its row is then marked.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines import landing
from cm_pipelines.assets.retention_inventory import (
    SYSTEM_ACTOR,
    current_states,
    fetch_frame,
    load_holds,
    load_policy_versions,
    sync_policy_versions,
)
from cm_pipelines.audit import append_audit
from cm_pipelines.domain.retention import (
    BreakerLimits,
    BreakerVerdict,
    artefacts_digest,
    canonical_json,
    evaluate_breaker,
    plan_items,
    proof_document,
    versions_to_record,
)
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.resources import object_purge
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables import dsar as dsar_tables
from cm_pipelines.tables.retention import (
    purge_batches,
    purge_plan_items,
    purge_plans,
    retention_tombstones,
)

OPEN_PLAN_STATES = ("planned", "approved", "executing")
STARTED_PLAN_STATES = ("approved", "executing")
PENDING_ITEM_STATES = ("pending", "failed")
PLANS_PREFIX = f"{landing.AUDIT}/retention/plans"
PROOFS_PREFIX = f"{landing.AUDIT}/retention/proofs"


class PurgeRefused(RuntimeError):
    """The purge must not proceed (plan not approved, unknown tenant); the message says why."""


@dataclass(frozen=True)
class PurgeSettings:
    tenant_id: str | None = None
    limits: BreakerLimits = field(default_factory=BreakerLimits)
    object_batch_size: int = object_purge.MAX_KEYS_PER_REQUEST
    row_batch_size: int = 10_000
    override_reason: str | None = None
    override_by: str | None = None


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


@dataclass
class GuardOutcome:
    plan_id: str
    passed: bool
    held: int
    not_due: int
    pending: int
    breaker: BreakerVerdict
    overridden: bool


@dataclass
class ExecutionOutcome:
    plan_id: str
    batches_run: int = 0
    rows_purged: int = 0
    objects_deleted: int = 0
    already_gone: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    withdrawn: Counter[str] = field(default_factory=Counter)
    by_record_type: Counter[str] = field(default_factory=Counter)


@dataclass
class ProofOutcome:
    plan_id: str
    path: str
    sha256: str
    document: dict[str, Any]
    status: str


def today_utc() -> date:
    return datetime.now(UTC).date()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plan_row(connection: sa.Connection, plan_id: str) -> dict[str, Any]:
    row = (
        connection.execute(sa.select(purge_plans).where(purge_plans.c.plan_id == plan_id))
        .mappings()
        .first()
    )
    if row is None:
        raise PurgeRefused(f"purge plan {plan_id} does not exist")
    return dict(row)


def plan_for_run(warehouse: WarehouseResource, run_id: str) -> dict[str, Any]:
    """The plan the plan step of ``run_id`` created or resumed."""
    with warehouse.connect() as connection:
        row = (
            connection.execute(sa.select(purge_plans).where(purge_plans.c.last_run_id == run_id))
            .mappings()
            .first()
        )
    if row is None:
        raise PurgeRefused(f"run {run_id} has no purge plan: the plan step did not run")
    return dict(row)


def _set_plan(connection: sa.Connection, plan_id: str, **values: Any) -> None:
    connection.execute(
        sa.update(purge_plans)
        .where(purge_plans.c.plan_id == plan_id)
        .values(updated_at=datetime.now(UTC), **values)
    )


def _manifest_summary(plan: dict[str, Any], items: pd.DataFrame) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    if not items.empty:
        for (tenant_id, record_type), count in (
            items.groupby(["tenant_id", "record_type"]).size().items()
        ):
            counts.setdefault(str(tenant_id), {})[str(record_type)] = int(count)
    versions = Counter(items["policy_version"].astype(str)) if not items.empty else Counter()
    return {
        "kind": "cm.retention.purge_plan",
        "format_version": 1,
        "plan_id": plan["plan_id"],
        "as_of": str(plan["as_of"]),
        "scope_tenant_id": plan["scope_tenant_id"],
        "created_at": str(plan["created_at"]),
        "created_run_id": plan["created_run_id"],
        "thresholds": plan["thresholds"],
        "tenant_totals": plan["tenant_totals"],
        "item_count": plan["item_count"],
        "object_count": plan["object_count"],
        "batch_count": plan["batch_count"],
        "items_sha256": plan["items_sha256"],
        "items_by_tenant_type": counts,
        "policy_versions": dict(sorted(versions.items())),
    }


def _plan_items_frame(
    connection: sa.Connection, plan_id: str, statuses: Sequence[str] | None = None
) -> pd.DataFrame:
    t = purge_plan_items
    columns = [
        "item_no",
        "batch_no",
        "tenant_id",
        "record_type",
        "artefact_id",
        "call_id",
        "object_path",
        "object_sha256",
        "policy_version",
        "status",
        "detail",
        "done_run_id",
    ]
    query = sa.select(*[t.c[name] for name in columns]).where(t.c.plan_id == plan_id)
    if statuses is not None:
        query = query.where(t.c.status.in_(list(statuses)))
    return fetch_frame(connection, query.order_by(t.c.item_no), columns)


def _write_manifest(
    connection: sa.Connection,
    store: ObjectStoreResource,
    plan_id: str,
    items: pd.DataFrame | None = None,
) -> str:
    plan = _plan_row(connection, plan_id)
    if items is None:
        items = _plan_items_frame(connection, plan_id)
    path = f"{PLANS_PREFIX}/{plan_id}.json"
    store.write_bytes(path, canonical_json(_manifest_summary(plan, items)))
    _set_plan(connection, plan_id, manifest_path=path)
    return path


def revalidate(
    warehouse: WarehouseResource,
    plan_id: str,
    *,
    as_of: date,
    hash_key: bytes,
    run_id: str | None,
) -> Counter[str]:
    """Withdraw pending items that are now held or no longer due (recorded, never deleted)."""
    with warehouse.connect() as connection:
        pending = _plan_items_frame(connection, plan_id, PENDING_ITEM_STATES)
        if pending.empty:
            return Counter()
        states, _ = current_states(
            connection,
            as_of=as_of,
            hash_key=hash_key,
            tenant_ids=set(pending["tenant_id"]),
        )
    joined = pending.merge(
        states[["tenant_id", "record_type", "artefact_id", "state"]],
        on=["tenant_id", "record_type", "artefact_id"],
        how="left",
    )
    withdraw = joined.loc[joined["state"].isin(["held", "active"])]
    if withdraw.empty:
        return Counter()
    now = datetime.now(UTC)
    details: Counter[str] = Counter()
    with warehouse.begin() as connection:
        for state, group in withdraw.groupby("state"):
            detail = "now_held" if state == "held" else "not_due"
            details[detail] += len(group)
            connection.execute(
                sa.update(purge_plan_items)
                .where(
                    purge_plan_items.c.plan_id == plan_id,
                    purge_plan_items.c.item_no.in_([int(n) for n in group["item_no"]]),
                    purge_plan_items.c.status.in_(PENDING_ITEM_STATES),
                )
                .values(status="withdrawn", detail=detail, done_at=now, done_run_id=run_id)
            )
    return details


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
) -> PlanOutcome:
    """Resume the open plan, or store a new manifest of what is due (nothing deleted here)."""
    as_of = as_of or today_utc()
    known = {tenant.id for tenant in tenants}
    if settings.tenant_id is not None and settings.tenant_id not in known:
        raise PurgeRefused(f"tenant {settings.tenant_id} is not configured")
    superseded: list[str] = []
    with warehouse.begin() as connection:
        sync_policy_versions(
            connection,
            tenants,
            as_of=as_of,
            actor=actor,
            run_id=run_id,
            config_sha256=config_sha256,
        )
        open_plans = [
            dict(row)
            for row in connection.execute(
                sa.select(purge_plans)
                .where(purge_plans.c.status.in_(OPEN_PLAN_STATES))
                .order_by(purge_plans.c.created_at.desc())
            ).mappings()
        ]
        resume: dict[str, Any] | None = None
        for open_plan in open_plans:
            started = open_plan["status"] in STARTED_PLAN_STATES
            thresholds = open_plan["thresholds"] or {}
            same_request = (
                open_plan["status"] == "planned"
                and str(open_plan["as_of"]) == as_of.isoformat()
                and open_plan["scope_tenant_id"] == settings.tenant_id
                and thresholds.get("max_tenant_share") == settings.limits.max_tenant_share
                and thresholds.get("max_plan_items") == settings.limits.max_plan_items
            )
            if resume is None and (started or same_request):
                resume = open_plan
            elif not started:
                superseded.append(open_plan["plan_id"])
                _set_plan(connection, open_plan["plan_id"], status="superseded")
        for plan_id in superseded:
            append_audit(
                connection,
                actor=actor,
                action="retention.purge_superseded",
                object_refs={"plan_id": plan_id},
                details={"reason": "a newer run planned again before any deletion"},
                run_id=run_id,
            )
        if resume is not None:
            values: dict[str, Any] = {"last_run_id": run_id}
            if settings.override_reason and resume["status"] == "planned":
                values.update(
                    override_reason=settings.override_reason[:500],
                    override_by=(settings.override_by or "unknown-operator")[:128],
                    override_at=datetime.now(UTC),
                )
            _set_plan(connection, resume["plan_id"], **values)
    if resume is not None:
        withdrawn = revalidate(
            warehouse, resume["plan_id"], as_of=as_of, hash_key=hash_key, run_id=run_id
        )
        with warehouse.begin() as connection:
            manifest_path = resume["manifest_path"] or _write_manifest(
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
            items = _plan_items_frame(connection, resume["plan_id"])
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
            by_tenant_type=_counts_by_tenant_type(items),
        )
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
    plan_id = f"purge-{as_of:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    plan: dict[str, Any] = {
        "plan_id": plan_id,
        "status": "planned",
        "as_of": as_of,
        "scope_tenant_id": settings.tenant_id,
        "created_at": now,
        "created_run_id": run_id,
        "last_run_id": run_id,
        "thresholds": {
            "max_tenant_share": settings.limits.max_tenant_share,
            "max_plan_items": settings.limits.max_plan_items,
            "object_batch_size": settings.object_batch_size,
            "row_batch_size": settings.row_batch_size,
        },
        "tenant_totals": totals,
        "item_count": int(len(items)),
        "object_count": int(items["object_path"].notna().sum()),
        "batch_count": int(items["batch_no"].max()) if not items.empty else 0,
        "items_sha256": artefacts_digest(items),
        "updated_at": now,
    }
    if settings.override_reason:
        plan.update(
            override_reason=settings.override_reason[:500],
            override_by=(settings.override_by or "unknown-operator")[:128],
            override_at=now,
        )
    with warehouse.begin() as connection:
        connection.execute(sa.insert(purge_plans).values(**plan))
        if not items.empty:
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
        append_audit(
            connection,
            actor=actor,
            action="retention.purge_planned",
            object_refs={"plan_id": plan_id},
            details={
                "as_of": as_of.isoformat(),
                "scope_tenant_id": settings.tenant_id,
                "items": plan["item_count"],
                "objects": plan["object_count"],
                "batches": plan["batch_count"],
                "items_sha256": plan["items_sha256"],
                "superseded": superseded,
            },
            run_id=run_id,
        )
    with warehouse.begin() as connection:
        manifest_path = _write_manifest(connection, store, plan_id, items)
    return PlanOutcome(
        plan_id=plan_id,
        resumed=False,
        status="planned",
        item_count=plan["item_count"],
        object_count=plan["object_count"],
        batch_count=plan["batch_count"],
        items_sha256=plan["items_sha256"],
        manifest_path=manifest_path,
        superseded=superseded,
        by_tenant_type=_counts_by_tenant_type(items),
    )


def _counts_by_tenant_type(items: pd.DataFrame) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    if items.empty:
        return counts
    for (tenant_id, record_type), count in (
        items.groupby(["tenant_id", "record_type"]).size().items()
    ):
        counts.setdefault(str(tenant_id), {})[str(record_type)] = int(count)
    return counts


def guard_plan(
    warehouse: WarehouseResource,
    plan_id: str,
    *,
    hash_key: bytes,
    run_id: str,
    as_of: date | None = None,
    actor: str = SYSTEM_ACTOR,
) -> GuardOutcome:
    """The blocking checks, re-derived from the warehouse now, not trusted from the plan."""
    as_of = as_of or today_utc()
    with warehouse.connect() as connection:
        plan = _plan_row(connection, plan_id)
        pending = _plan_items_frame(connection, plan_id, PENDING_ITEM_STATES)
        if pending.empty:
            held = not_due = 0
        else:
            states, _ = current_states(
                connection, as_of=as_of, hash_key=hash_key, tenant_ids=set(pending["tenant_id"])
            )
            joined = pending.merge(
                states[["tenant_id", "record_type", "artefact_id", "state"]],
                on=["tenant_id", "record_type", "artefact_id"],
                how="left",
            )
            held = int((joined["state"] == "held").sum())
            not_due = int((joined["state"] == "active").sum())
    thresholds = plan["thresholds"] or {}
    limits = BreakerLimits(
        max_tenant_share=float(
            thresholds.get("max_tenant_share", BreakerLimits().max_tenant_share)
        ),
        max_plan_items=int(thresholds.get("max_plan_items", BreakerLimits().max_plan_items)),
    )
    totals = plan["tenant_totals"] or {}
    verdict = evaluate_breaker(
        {tenant: int(entry["planned"]) for tenant, entry in totals.items() if entry["planned"]},
        {tenant: int(entry["live"]) for tenant, entry in totals.items()},
        limits,
    )
    overridden = verdict.tripped and bool(plan["override_reason"])
    passed = held == 0 and not_due == 0 and (not verdict.tripped or overridden)
    result = {
        "checked_at": datetime.now(UTC).isoformat(),
        "run_id": run_id,
        "pending": int(len(pending)),
        "held": held,
        "not_due": not_due,
        "breaker_tripped": verdict.tripped,
        "breaker_reasons": list(verdict.reasons),
        "tenant_shares": verdict.tenant_shares,
        "overridden": overridden,
        "passed": passed,
    }
    with warehouse.begin() as connection:
        values: dict[str, Any] = {"guard_result": result}
        if plan["status"] == "planned":
            values["status"] = "approved" if passed else "refused"
        _set_plan(connection, plan_id, **values)
        if overridden:
            append_audit(
                connection,
                actor=f"operator:{plan['override_by']}",
                action="retention.breaker_overridden",
                object_refs={"plan_id": plan_id},
                details={
                    "reason_sha256": _sha256(str(plan["override_reason"])),
                    "tenant_shares": verdict.tenant_shares,
                    "plan_items": verdict.plan_items,
                    "limits": {
                        "max_tenant_share": limits.max_tenant_share,
                        "max_plan_items": limits.max_plan_items,
                    },
                    "tripped_checks": len(verdict.reasons),
                },
                run_id=run_id,
            )
        if not passed:
            append_audit(
                connection,
                actor=actor,
                action="retention.purge_refused",
                object_refs={"plan_id": plan_id},
                details={
                    "held": held,
                    "not_due": not_due,
                    "breaker_tripped": verdict.tripped,
                    "tenant_shares": verdict.tenant_shares,
                    "plan_items": verdict.plan_items,
                },
                run_id=run_id,
            )
    return GuardOutcome(plan_id, passed, held, not_due, int(len(pending)), verdict, overridden)


# --- execution -------------------------------------------------------------------------------

_CALL_WIPE: dict[str, Any] = {
    "src_e164": None,
    "src_extension": None,
    "dst_e164": None,
    "dst_extension": None,
    "caller_name": None,
    "channel": None,
    "dstchannel": None,
    "userfield": None,
    "crm_ref": None,
}
"""Personal columns of a call row; what stays (times, duration, disposition) is not personal."""

ROW_TARGETS: dict[str, tuple[sa.Table, str, dict[str, Any]]] = {
    "call_logs": (call_tables.calls, "call", _CALL_WIPE),
    "recordings": (call_tables.recordings, "call", {}),
    "transcripts": (call_tables.transcripts, "call", {"text": "", "segments": []}),
    "ai_summaries": (call_tables.ai_outputs, "ai", {"text": ""}),
    # crm_record_id stays: it is part of the ingestion key that stops a re-run resurrecting a
    # purged link, and it only means something inside the tenant's own CRM.
    "crm_links": (call_tables.crm_links, "id", {"contact_e164": None, "contact_email": None}),
    "wash_results": (dncr_tables.wash_results, "id", {"e164": None, "e164_hash": ""}),
    "blocked_calls": (dncr_tables.blocked_calls, "id", {"e164_hash": ""}),
}
"""Artefact type -> (table, key kind, personal columns and the values that wipe them)."""


def _mark_rows(
    connection: sa.Connection, record_type: str, items: pd.DataFrame, now: datetime
) -> set[str]:
    """Mark the live rows of ``items`` purged and wipe them; returns the artefact ids marked."""
    if record_type == "dsar_case_files":
        return _mark_case_files(connection, items, now)
    table, key_kind, wipe = ROW_TARGETS[record_type]
    marked: set[str] = set()
    for tenant_id, group in items.groupby("tenant_id"):
        live = sa.and_(table.c.tenant_id == tenant_id, table.c.deleted_at.is_(None))
        if key_kind == "call":
            ids = group["artefact_id"].astype(str).tolist()
            statement = (
                sa.update(table)
                .where(live, table.c.call_id.in_(ids))
                .values(deleted_at=now, **wipe)
                .returning(table.c.call_id)
            )
            marked.update(str(row[0]) for row in connection.execute(statement))
        elif key_kind == "ai":
            parts = group["artefact_id"].astype(str).str.split("#", n=1, expand=True)
            for kind, kind_group in parts.groupby(1):
                statement = (
                    sa.update(table)
                    .where(live, table.c.kind == kind, table.c.call_id.in_(kind_group[0].tolist()))
                    .values(deleted_at=now, **wipe)
                    .returning(table.c.call_id)
                )
                marked.update(f"{row[0]}#{kind}" for row in connection.execute(statement))
        else:
            ids = [int(value) for value in group["artefact_id"]]
            statement = (
                sa.update(table)
                .where(live, table.c.id.in_(ids))
                .values(deleted_at=now, **wipe)
                .returning(table.c.id)
            )
            marked.update(str(row[0]) for row in connection.execute(statement))
    return marked


def _mark_case_files(connection: sa.Connection, items: pd.DataFrame, now: datetime) -> set[str]:
    """Closed DSAR case files: wipe the request's identifiers and free text, its certificate
    body and outbox references; mark left-over exports deleted."""
    tombstoned = {
        row[0]
        for row in connection.execute(
            sa.select(retention_tombstones.c.artefact_id).where(
                retention_tombstones.c.record_type == "dsar_case_files",
                retention_tombstones.c.artefact_id.in_(items["artefact_id"].astype(str).tolist()),
            )
        )
    }
    ids = [value for value in items["artefact_id"].astype(str) if value not in tombstoned]
    request_ids = [value.split(":", 1)[1] for value in ids if value.startswith("request:")]
    export_ids = [int(value.split(":", 1)[1]) for value in ids if value.startswith("export:")]
    marked: set[str] = set()
    if request_ids:
        requests_t = dsar_tables.dsar_requests
        statement = (
            sa.update(requests_t)
            .where(requests_t.c.request_id.in_(request_ids))
            .values(
                identifiers=[],
                identifier_hashes=[],
                rectification=None,
                extension_reason=None,
                refusal_reason=None,
                result_path=None,
                updated_at=now,
            )
            .returning(requests_t.c.request_id)
        )
        marked.update(f"request:{row[0]}" for row in connection.execute(statement))
        certificates = dsar_tables.dsar_certificates
        connection.execute(
            sa.update(certificates)
            .where(certificates.c.request_id.in_(request_ids))
            .values(body={})
        )
        outbox = dsar_tables.dsar_erasure_outbox
        connection.execute(
            sa.update(outbox).where(outbox.c.request_id.in_(request_ids)).values(record_refs=[])
        )
    if export_ids:
        exports = dsar_tables.dsar_exports
        statement = (
            sa.update(exports)
            .where(exports.c.id.in_(export_ids), exports.c.deleted_at.is_(None))
            .values(deleted_at=now)
            .returning(exports.c.id)
        )
        marked.update(f"export:{row[0]}" for row in connection.execute(statement))
    return marked


def _batch_items(connection: sa.Connection, plan_id: str, batch_no: int) -> pd.DataFrame:
    t = purge_plan_items
    columns = [
        "item_no",
        "tenant_id",
        "record_type",
        "artefact_id",
        "object_path",
        "object_sha256",
        "policy_version",
    ]
    query = sa.select(*[t.c[name] for name in columns]).where(
        t.c.plan_id == plan_id, t.c.batch_no == batch_no, t.c.status.in_(PENDING_ITEM_STATES)
    )
    return fetch_frame(connection, query, columns)


def _set_items(
    connection: sa.Connection,
    plan_id: str,
    item_numbers: Sequence[int],
    *,
    status: str,
    detail: str | None,
    now: datetime,
    run_id: str,
) -> None:
    if not len(item_numbers):
        return
    connection.execute(
        sa.update(purge_plan_items)
        .where(
            purge_plan_items.c.plan_id == plan_id,
            purge_plan_items.c.item_no.in_([int(n) for n in item_numbers]),
        )
        .values(status=status, detail=detail, done_at=now, done_run_id=run_id)
    )


def _active_hold_ids(warehouse: WarehouseResource) -> set[str]:
    with warehouse.connect() as connection:
        return {str(hold["hold_id"]) for hold in load_holds(connection)}


def execute_plan(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    plan_id: str,
    *,
    run_id: str,
    hash_key: bytes,
    log: Callable[[str], None] = lambda _message: None,
) -> ExecutionOutcome:
    """Run every unfinished batch of an approved plan; per-object failures are recorded."""
    with warehouse.begin() as connection:
        plan = _plan_row(connection, plan_id)
        if plan["status"] not in STARTED_PLAN_STATES:
            raise PurgeRefused(
                f"purge plan {plan_id} is {plan['status']}: only an approved plan is executed"
            )
        _set_plan(connection, plan_id, status="executing", last_run_id=run_id)
        batch_numbers = [
            int(row[0])
            for row in connection.execute(
                sa.select(purge_batches.c.batch_no)
                .where(purge_batches.c.plan_id == plan_id, purge_batches.c.status != "done")
                .order_by(purge_batches.c.batch_no)
            )
        ]
    outcome = ExecutionOutcome(plan_id)
    known_holds = _active_hold_ids(warehouse)
    for batch_no in batch_numbers:
        current_holds = _active_hold_ids(warehouse)
        if current_holds - known_holds:
            withdrawn = revalidate(
                warehouse, plan_id, as_of=today_utc(), hash_key=hash_key, run_id=run_id
            )
            outcome.withdrawn.update(withdrawn)
            if withdrawn:
                log(
                    f"new legal hold(s) during the purge: {sum(withdrawn.values())} item(s) withdrawn"
                )
        known_holds = current_holds
        _run_batch(warehouse, store, plan_id, batch_no, run_id, outcome)
        outcome.batches_run += 1
    return outcome


def _run_batch(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    plan_id: str,
    batch_no: int,
    run_id: str,
    outcome: ExecutionOutcome,
) -> None:
    with warehouse.begin() as connection:
        items = _batch_items(connection, plan_id, batch_no)
        connection.execute(
            sa.update(purge_batches)
            .where(purge_batches.c.plan_id == plan_id, purge_batches.c.batch_no == batch_no)
            .values(status="deleting", started_at=datetime.now(UTC), run_id=run_id)
        )
    paths = items["object_path"].dropna().astype(str).tolist()
    deletion = object_purge.purge_objects(store, paths) if paths else object_purge.PurgeOutcome()
    failed_paths = deletion.failed
    object_failed = items["object_path"].isin(list(failed_paths)).to_numpy()
    ready = items.loc[~object_failed]
    refused = items.loc[object_failed]
    now = datetime.now(UTC)
    with warehouse.begin() as connection:
        marked: list[str] = []
        for record_type, group in ready.groupby("record_type"):
            marked.extend(
                f"{record_type}\x1f{artefact_id}"
                for artefact_id in _mark_rows(connection, str(record_type), group, now)
            )
        keys = ready["record_type"].astype(str) + "\x1f" + ready["artefact_id"].astype(str)
        is_marked = keys.isin(marked).to_numpy(dtype=bool)
        purged = ready.loc[is_marked]
        gone = ready.loc[~is_marked]
        if not purged.empty:
            bulk_insert(
                connection,
                retention_tombstones,
                pd.DataFrame(
                    {
                        "tenant_id": purged["tenant_id"].to_numpy(),
                        "record_type": purged["record_type"].to_numpy(),
                        "artefact_id": purged["artefact_id"].to_numpy(),
                        "object_sha256": purged["object_sha256"].to_numpy(),
                        "deleted_at": now,
                        "policy_version": purged["policy_version"].to_numpy(),
                        "plan_id": plan_id,
                        "run_id": run_id,
                    }
                ),
            )
        # Exceptions first (few), then every other open item of the batch with one predicate.
        for path_code, group in refused.groupby(refused["object_path"].map(failed_paths)):
            _set_items(
                connection,
                plan_id,
                group["item_no"].tolist(),
                status="failed",
                detail=str(path_code)[:64],
                now=now,
                run_id=run_id,
            )
        _set_items(
            connection,
            plan_id,
            gone["item_no"].tolist(),
            status="already_gone",
            detail="row_not_live",
            now=now,
            run_id=run_id,
        )
        if not purged.empty:
            connection.execute(
                sa.update(purge_plan_items)
                .where(
                    purge_plan_items.c.plan_id == plan_id,
                    purge_plan_items.c.batch_no == batch_no,
                    purge_plan_items.c.status.in_(PENDING_ITEM_STATES),
                    purge_plan_items.c.item_no.not_in([int(n) for n in refused["item_no"]] or [-1]),
                )
                .values(status="purged", detail=None, done_at=now, done_run_id=run_id)
            )
        connection.execute(
            sa.update(purge_batches)
            .where(purge_batches.c.plan_id == plan_id, purge_batches.c.batch_no == batch_no)
            .values(
                status="done_with_failures" if len(refused) else "done",
                objects_deleted=len(deletion.gone),
                objects_failed=len(refused),
                rows_purged=len(purged),
                finished_at=now,
                run_id=run_id,
            )
        )
    outcome.rows_purged += len(purged)
    outcome.objects_deleted += int(purged["object_path"].notna().sum())
    outcome.already_gone += len(gone)
    outcome.failed.update(str(failed_paths[path]) for path in refused["object_path"])
    outcome.by_record_type.update(purged["record_type"].astype(str).tolist())


# --- proof -----------------------------------------------------------------------------------


def _tombstones_frame(connection: sa.Connection, plan_id: str) -> pd.DataFrame:
    t = retention_tombstones
    columns = ["tenant_id", "record_type", "artefact_id", "object_sha256", "policy_version"]
    query = sa.select(*[t.c[name] for name in columns]).where(t.c.plan_id == plan_id)
    return fetch_frame(connection, query, columns)


def prove_plan(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    plan_id: str,
    *,
    run_id: str,
    actor: str = SYSTEM_ACTOR,
) -> ProofOutcome:
    """Verify, write the proof-of-deletion manifest and close the plan (with failures if any)."""
    with warehouse.connect() as connection:
        plan = _plan_row(connection, plan_id)
        items = _plan_items_frame(connection, plan_id)
        tombstones = _tombstones_frame(connection, plan_id)
        batch_runs = [
            str(row[0])
            for row in connection.execute(
                sa.select(purge_batches.c.run_id).where(
                    purge_batches.c.plan_id == plan_id, purge_batches.c.run_id.is_not(None)
                )
            )
        ]
    deleted_paths = (
        items.loc[(items["status"] == "purged") & items["object_path"].notna(), "object_path"]
        .astype(str)
        .tolist()
        if not items.empty
        else []
    )
    left = object_purge.still_present(store, deleted_paths) if deleted_paths else []
    run_ids = [*batch_runs, *items["done_run_id"].dropna().astype(str).tolist()]
    proved_at = datetime.now(UTC)
    document = proof_document(
        plan,
        items,
        tombstones,
        objects_verified_absent=len(deleted_paths) - len(left),
        objects_still_present=len(left),
        run_ids=run_ids,
        proof_run_id=run_id,
        proved_at=proved_at.isoformat(),
    )
    data = canonical_json(document)
    path = f"{PROOFS_PREFIX}/{plan_id}.json"
    store.write_bytes(path, data)
    sha = hashlib.sha256(data).hexdigest()
    totals = document["totals"]
    clean = totals["failed"] == 0 and totals["pending"] == 0 and not left
    status = "completed" if clean else "completed_with_failures"
    with warehouse.begin() as connection:
        _set_plan(
            connection,
            plan_id,
            status=status,
            proof_path=path,
            proof_sha256=sha,
            completed_at=proved_at,
            last_run_id=run_id,
        )
        append_audit(
            connection,
            actor=actor,
            action="retention.purge_completed",
            object_refs={"plan_id": plan_id, "proof_path": path, "proof_sha256": sha},
            details={
                "status": status,
                "totals": totals,
                "tombstones_sha256": document["tombstones_sha256"],
                "plan_items_sha256": document["plan_items_sha256"],
            },
            run_id=run_id,
        )
    return ProofOutcome(plan_id, path, sha, document, status)


# --- dry run ---------------------------------------------------------------------------------


def dry_run(
    warehouse: WarehouseResource,
    tenants: Sequence[Tenant],
    *,
    hash_key: bytes,
    tenant_id: str | None = None,
    limits: BreakerLimits | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """What a purge would take today and why, writing nothing: policy changes in the tenants
    file not yet recorded are applied as they would be (effective today)."""
    as_of = as_of or today_utc()
    limits = limits or BreakerLimits()
    known = {tenant.id for tenant in tenants}
    if tenant_id is not None and tenant_id not in known:
        raise PurgeRefused(f"tenant {tenant_id} is not configured")
    with warehouse.connect() as connection:
        unrecorded = versions_to_record(tenants, load_policy_versions(connection), as_of)
        states, _ = current_states(
            connection,
            as_of=as_of,
            hash_key=hash_key,
            tenant_ids=None if tenant_id is None else {tenant_id},
            extra_versions=unrecorded,
        )
    states = states.loc[states["tenant_id"].isin(known)]
    items = plan_items(states, tenant_id=tenant_id)
    groups = []
    if not items.empty:
        grouped = items.assign(has_object=items["object_path"].notna()).groupby(
            ["tenant_id", "record_type", "policy_version", "basis"]
        )
        for (tenant, record_type, version, basis), group in grouped:
            groups.append(
                {
                    "tenant_id": tenant,
                    "record_type": record_type,
                    "policy_version": version,
                    "basis": basis,
                    "artefacts": int(len(group)),
                    "objects": int(group["has_object"].sum()),
                    "oldest_expiry": str(min(group["expires_on"])),
                }
            )
    live = states.loc[states["state"] != "purged"].groupby("tenant_id").size()
    planned = items.groupby("tenant_id").size() if not items.empty else pd.Series(dtype=int)
    verdict = evaluate_breaker(
        {str(k): int(v) for k, v in planned.items()},
        {str(k): int(v) for k, v in live.items()},
        limits,
    )
    expired = pd.to_datetime(states["expires_on"]).le(pd.Timestamp(as_of)).fillna(False)
    held = states.loc[(states["state"] == "held") & expired]
    return {
        "as_of": as_of.isoformat(),
        "scope_tenant_id": tenant_id,
        "would_purge": int(len(items)),
        "objects": int(items["object_path"].notna().sum()) if not items.empty else 0,
        "groups": groups,
        "held_past_expiry": {
            f"{tenant}/{record_type}": int(count)
            for (tenant, record_type), count in held.groupby(["tenant_id", "record_type"])
            .size()
            .items()
        },
        "unrecorded_policy_changes": [
            {"policy_version": v.id, "retention_days": v.retention_days}
            for v in unrecorded
            if v.version > 1
        ],
        "breaker": {
            "would_trip": verdict.tripped,
            "reasons": list(verdict.reasons),
            "tenant_shares": verdict.tenant_shares,
            "limits": {
                "max_tenant_share": limits.max_tenant_share,
                "max_plan_items": limits.max_plan_items,
            },
        },
    }
