"""The purge, in four resumable steps: plan, guard, execute in batches, prove.

* **plan** stores the manifest (``purge_plans`` + ``purge_plan_items`` + ``purge_batches`` and a
  summary under ``audit/retention/plans/``) before anything is deleted. A plan that was approved
  or had started executing is *resumed* by the next run of the same scope, whatever that run
  asked for, never replaced: the same items, with the ones now held or no longer due withdrawn
  (and said so). A plan killed before its guard finished is resumed by a run with the same day,
  scope and limits; any other run of that scope marks it ``superseded`` (nothing of it was
  deleted) and plans afresh. A plan the guard refused is closed (``refused``); the next run
  plans afresh.
* **guard** re-derives every pending item's state: nothing held, nothing not yet due, and the
  circuit breaker (share of each tenant's live artefacts, absolute ceiling) unless the plan
  carries an operator override, which is audited when it is used.
* **execute** takes one batch at a time: mark it ``deleting``, delete its objects and confirm
  each is gone (``resources.object_purge``), then in one transaction mark the rows purged
  (``deleted_at`` set, personal columns wiped; a quarantined line's raw record wiped and
  ``purged_at`` set; a landing file has no row, its tombstone is its mark), write tombstones
  and record each item's outcome. An object that refuses deletion keeps its row live and is
  reported.
* **prove** verifies the deleted objects are absent, writes the proof-of-deletion manifest
  under ``audit/retention/proofs/`` and appends an audit entry.

Killed anywhere and run again, a plan finishes as planned: items already purged are never
touched again (their status, ``deleted_at IS NULL`` guards and a unique tombstone per artefact),
an object deleted before the kill is found absent and its row is then marked.

Scopes and concurrent runs. A plan's scope is one tenant or every tenant (``scope_tenant_id``
NULL). A run only ever looks up, resumes or supersedes plans of its own scope; two scopes
*overlap* when they are equal or either is every tenant, so an all-tenants purge conflicts with
every tenant purge while purges of two different tenants never meet. Overlapping runs are kept
apart in two layers:

* a database lock around every check-and-claim: on PostgreSQL a transaction advisory lock,
  exclusive on ``advisory_lock_key("retention", tenant)`` and shared on ``("retention", "*")``
  for a tenant run, exclusive on ``"*"`` for an all-tenants run (the same two-level pattern a
  table lock uses); on SQLite every write transaction is ``BEGIN IMMEDIATE``, one at a time;
* a *claim* on the plan (``claimed_by_run`` + ``claim_heartbeat_at``), taken when the plan is
  created or resumed and renewed by the guard, every batch and the proof, released when the
  plan closes or the run fails. While another run's claim on an overlapping plan is fresh a run
  refuses cleanly (``PurgeBusy``) before touching anything, and a run that finds its own claim
  taken stops before its next batch. A claim lapses ``CLAIM_TTL`` after its last heartbeat (a
  run killed outright), or at once when the Dagster instance says its run has finished.

An unfinished plan past its guard (approved, executing) of an overlapping but different scope is
never superseded: the run refuses and names the command that finishes it.

Landing files (a CDR day file, a CRM links file) are planned with the rows read from them and
purged after them; right before deleting one the batch checks again that no row (or
quarantined line) of it is live, and withdraws it (``sources_live``) otherwise.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.rules import (
    SOURCE_FILE_TYPES,
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
from cm_pipelines.platform import landing
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources import object_purge
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.locks import advisory_lock_key
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.inventory import (
    SYSTEM_ACTOR,
    current_states,
    fetch_frame,
    load_holds,
    load_policy_versions,
    quarantine_artefact_ids,
    sync_policy_versions,
)
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables import dsar as dsar_tables
from cm_pipelines.tables.retention import (
    purge_batches,
    purge_plan_items,
    purge_plans,
    retention_tombstones,
)

OPEN_PLAN_STATES = ("planning", "planned", "approved", "executing")
STARTED_PLAN_STATES = ("approved", "executing")
PENDING_ITEM_STATES = ("pending", "failed")
PLANS_PREFIX = f"{landing.AUDIT}/retention/plans"
PROOFS_PREFIX = f"{landing.AUDIT}/retention/proofs"
LOCK_SCOPE = "retention"
ALL_TENANTS_SCOPE = "*"
CLAIM_TTL = timedelta(minutes=10)
"""A claim not renewed for this long belongs to a run that died: another run may take over.
Renewed at every step and batch; one batch (<= 1,000 objects) takes seconds."""


class PurgeRefused(RuntimeError):
    """The purge must not proceed (plan not approved, unknown tenant); the message says why."""


class PurgeBusy(PurgeRefused):
    """Another run is working on an overlapping plan: this run stopped without changing it."""


@dataclass(frozen=True)
class ClaimPolicy:
    """When another run's claim on a plan still stands: its heartbeat is younger than ``ttl``
    and ``holder_finished`` (the Dagster instance, when there is one) does not say its run
    has ended."""

    ttl: timedelta = CLAIM_TTL
    holder_finished: Callable[[str], bool] | None = None


def scope_label(tenant_id: str | None) -> str:
    return "all tenants" if tenant_id is None else f"tenant {tenant_id}"


def lock_scope(connection: sa.Connection, tenant_id: str | None) -> None:
    """Serialise check-and-claim between overlapping scopes until this transaction ends.

    PostgreSQL: a tenant run holds ``*`` shared and its tenant exclusive, an all-tenants run
    holds ``*`` exclusive; locks are always taken ``*`` first, so they cannot deadlock. SQLite
    write transactions are already one at a time (``BEGIN IMMEDIATE``).
    """
    if connection.dialect.name != "postgresql":
        return
    everyone = advisory_lock_key(LOCK_SCOPE, ALL_TENANTS_SCOPE)
    if tenant_id is None:
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": everyone})
        return
    connection.execute(sa.text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": everyone})
    connection.execute(
        sa.text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": advisory_lock_key(LOCK_SCOPE, tenant_id)},
    )


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


def claim_holder(
    plan: dict[str, Any], run_id: str, now: datetime, claims: ClaimPolicy
) -> str | None:
    """The other run whose claim on ``plan`` still stands, or None when ``run_id`` may act."""
    holder = plan.get("claimed_by_run")
    if not holder or holder == run_id:
        return None
    heartbeat = _utc(plan.get("claim_heartbeat_at"))
    if heartbeat is None or now - heartbeat > claims.ttl:
        return None
    if claims.holder_finished is not None and claims.holder_finished(str(holder)):
        return None
    return str(holder)


def _busy(plan: dict[str, Any], holder: str, claims: ClaimPolicy) -> PurgeBusy:
    return PurgeBusy(
        f"purge plan {plan['plan_id']} ({scope_label(plan['scope_tenant_id'])}) is being "
        f"worked on by run {holder}: a purge of an overlapping scope does not run beside it. "
        f"Run it again once that run ends (a claim lapses {int(claims.ttl.total_seconds())} s "
        "after its last heartbeat)"
    )


def _take_claim(
    connection: sa.Connection, plan_id: str, run_id: str, claims: ClaimPolicy
) -> dict[str, Any]:
    """In the caller's transaction: lock the plan's scope, refuse when another run holds the
    plan, else claim it for ``run_id``. Returns the plan row as read under the lock."""
    lock_scope(connection, _plan_row(connection, plan_id)["scope_tenant_id"])
    plan = _plan_row(connection, plan_id)
    now = datetime.now(UTC)
    holder = claim_holder(plan, run_id, now, claims)
    if holder is not None:
        raise _busy(plan, holder, claims)
    _set_plan(connection, plan_id, claimed_by_run=run_id, claim_heartbeat_at=now)
    return plan


_NO_CLAIM: dict[str, Any] = {"claimed_by_run": None, "claim_heartbeat_at": None}


def release_claim(warehouse: WarehouseResource, plan_id: str, run_id: str) -> None:
    """Let the next run take the plan over at once (only ``run_id``'s own claim is released)."""
    with warehouse.begin() as connection:
        connection.execute(
            sa.update(purge_plans)
            .where(purge_plans.c.plan_id == plan_id, purge_plans.c.claimed_by_run == run_id)
            .values(updated_at=datetime.now(UTC), **_NO_CLAIM)
        )


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


def _overlapping_open_plans(
    connection: sa.Connection, tenant_id: str | None
) -> list[dict[str, Any]]:
    """Open plans whose scope overlaps ``tenant_id`` (every open plan for all tenants)."""
    query = sa.select(purge_plans).where(purge_plans.c.status.in_(OPEN_PLAN_STATES))
    if tenant_id is not None:
        query = query.where(
            sa.or_(
                purge_plans.c.scope_tenant_id.is_(None),
                purge_plans.c.scope_tenant_id == tenant_id,
            )
        )
    return [
        dict(row)
        for row in connection.execute(query.order_by(purge_plans.c.created_at.desc())).mappings()
    ]


def _finish_command(tenant_id: str | None) -> str:
    return "cm retention purge" + (f" --tenant {tenant_id}" if tenant_id else "")


def _claim_or_start(
    connection: sa.Connection,
    settings: PurgeSettings,
    *,
    as_of: date,
    run_id: str,
    claims: ClaimPolicy,
    actor: str,
) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    """Under the scope lock: refuse while an overlapping plan is claimed, supersede what is safe
    to drop, then claim the plan to resume, or insert a new plan row (``planning``) claimed by
    this run. Returns (plan to resume, new plan id, superseded plan ids)."""
    scope = settings.tenant_id
    now = datetime.now(UTC)
    open_plans = _overlapping_open_plans(connection, scope)
    for open_plan in open_plans:
        holder = claim_holder(open_plan, run_id, now, claims)
        if holder is not None:
            raise _busy(open_plan, holder, claims)
    superseded: list[str] = []
    resume: dict[str, Any] | None = None
    for open_plan in open_plans:
        started = open_plan["status"] in STARTED_PLAN_STATES
        if open_plan["scope_tenant_id"] != scope:
            if started:
                other = open_plan["scope_tenant_id"]
                raise PurgeRefused(
                    f"purge plan {open_plan['plan_id']} ({scope_label(other)}) has started "
                    f"deleting and is unfinished; it overlaps this purge ({scope_label(scope)}). "
                    f"Finish it first: {_finish_command(other)}"
                )
            superseded.append(open_plan["plan_id"])
            continue
        thresholds = open_plan["thresholds"] or {}
        same_request = (
            open_plan["status"] == "planned"
            and str(open_plan["as_of"]) == as_of.isoformat()
            and thresholds.get("max_tenant_share") == settings.limits.max_tenant_share
            and thresholds.get("max_plan_items") == settings.limits.max_plan_items
        )
        if resume is None and (started or same_request):
            resume = open_plan
        elif not started:
            superseded.append(open_plan["plan_id"])
    for plan_id in superseded:
        _set_plan(connection, plan_id, status="superseded", **_NO_CLAIM)
        append_audit(
            connection,
            actor=actor,
            action="retention.purge_superseded",
            object_refs={"plan_id": plan_id},
            details={"reason": "a newer run planned again before any deletion"},
            run_id=run_id,
        )
    if resume is not None:
        values: dict[str, Any] = {
            "last_run_id": run_id,
            "claimed_by_run": run_id,
            "claim_heartbeat_at": now,
        }
        if settings.override_reason and resume["status"] == "planned":
            values.update(
                override_reason=settings.override_reason[:500],
                override_by=(settings.override_by or "unknown-operator")[:128],
                override_at=now,
            )
        _set_plan(connection, resume["plan_id"], **values)
        return resume, None, superseded
    plan_id = f"purge-{as_of:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    row: dict[str, Any] = {
        "plan_id": plan_id,
        "status": "planning",
        "as_of": as_of,
        "scope_tenant_id": scope,
        "created_at": now,
        "created_run_id": run_id,
        "last_run_id": run_id,
        "thresholds": {
            "max_tenant_share": settings.limits.max_tenant_share,
            "max_plan_items": settings.limits.max_plan_items,
            "object_batch_size": settings.object_batch_size,
            "row_batch_size": settings.row_batch_size,
        },
        "tenant_totals": {},
        "item_count": 0,
        "object_count": 0,
        "batch_count": 0,
        "items_sha256": artefacts_digest(pd.DataFrame()),
        "updated_at": now,
        "claimed_by_run": run_id,
        "claim_heartbeat_at": now,
    }
    if settings.override_reason:
        row.update(
            override_reason=settings.override_reason[:500],
            override_by=(settings.override_by or "unknown-operator")[:128],
            override_at=now,
        )
    connection.execute(sa.insert(purge_plans).values(**row))
    return None, plan_id, superseded


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
        resume, plan_id, superseded = _claim_or_start(
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
                .values(status="abandoned", updated_at=datetime.now(UTC), **_NO_CLAIM)
            )
        raise


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
        current = _plan_row(connection, plan_id)
        if current["status"] != "planning" or current["claimed_by_run"] != run_id:
            raise PurgeBusy(
                f"purge plan {plan_id} was taken over while run {run_id} was planning it "
                f"(now {current['status']}, claimed by {current['claimed_by_run'] or 'nobody'})"
            )
        _set_plan(connection, plan_id, **values)
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
                "items": values["item_count"],
                "objects": values["object_count"],
                "batches": values["batch_count"],
                "items_sha256": values["items_sha256"],
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
        item_count=values["item_count"],
        object_count=values["object_count"],
        batch_count=values["batch_count"],
        items_sha256=values["items_sha256"],
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
    claims: ClaimPolicy | None = None,
) -> GuardOutcome:
    """The blocking checks, re-derived from the warehouse now, not trusted from the plan."""
    with warehouse.begin() as connection:
        _take_claim(connection, plan_id, run_id, claims or ClaimPolicy())
    try:
        return _guard(warehouse, plan_id, hash_key, run_id, as_of or today_utc(), actor)
    except BaseException:
        release_claim(warehouse, plan_id, run_id)
        raise


def _guard(
    warehouse: WarehouseResource,
    plan_id: str,
    hash_key: bytes,
    run_id: str,
    as_of: date,
    actor: str,
) -> GuardOutcome:
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
        if values.get("status") == "refused":
            values.update(_NO_CLAIM)  # closed: nothing left to keep others away from
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
    if record_type == "quarantine_records":
        return _mark_quarantine(connection, items, now)
    if record_type in SOURCE_FILE_TYPES:
        return _not_yet_tombstoned(connection, record_type, items)
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


def _not_yet_tombstoned(
    connection: sa.Connection, record_type: str, items: pd.DataFrame
) -> set[str]:
    """A landing file has no row to mark: its tombstone is its mark."""
    t = retention_tombstones
    fresh: set[str] = set()
    for tenant_id, group in items.groupby("tenant_id"):
        ids = group["artefact_id"].astype(str).tolist()
        tombstoned = {
            str(row[0])
            for row in connection.execute(
                sa.select(t.c.artefact_id).where(
                    t.c.tenant_id == tenant_id,
                    t.c.record_type == record_type,
                    t.c.artefact_id.in_(ids),
                )
            )
        }
        fresh.update(set(ids) - tombstoned)
    return fresh


def _mark_quarantine(connection: sa.Connection, items: pd.DataFrame, now: datetime) -> set[str]:
    """Wipe quarantined lines' raw records and mark them; a row whose id now names a newer
    line (re-ingested since planning) is left alone."""
    q = call_tables.quarantine
    marked: set[str] = set()
    for tenant_id, group in items.groupby("tenant_id"):
        wanted = set(group["artefact_id"].astype(str))
        ids = sorted({int(value.split("@", 1)[0]) for value in wanted})
        rows = fetch_frame(
            connection,
            sa.select(q.c.id, q.c.created_at).where(
                q.c.tenant_id == tenant_id, q.c.id.in_(ids), q.c.purged_at.is_(None)
            ),
            ["id", "created_at"],
        )
        if rows.empty:
            continue
        current = quarantine_artefact_ids(rows["id"], rows["created_at"])
        matching = current.isin(wanted).to_numpy()
        by_id = dict(zip(rows["id"].astype(int), current, strict=True))
        statement = (
            sa.update(q)
            .where(
                q.c.tenant_id == tenant_id,
                q.c.id.in_([int(value) for value in rows.loc[matching, "id"]]),
                q.c.purged_at.is_(None),
            )
            .values(raw_record=None, purged_at=now)
            .returning(q.c.id)
        )
        if matching.any():
            marked.update(by_id[int(row[0])] for row in connection.execute(statement))
    return marked


def files_still_in_use(
    connection: sa.Connection, tenant_id: str, file_type: str, paths: Sequence[str]
) -> set[str]:
    """The landing files among ``paths`` that a live row (neither purged nor erased) or an
    unpurged quarantined line of ``tenant_id`` still comes from."""
    if file_type == "cdr_files":
        table: sa.Table = call_tables.calls
        asset = "call_records"
        live = sa.and_(table.c.deleted_at.is_(None), table.c.erased_at.is_(None))
    else:
        table, asset = call_tables.crm_links, "crm_links"
        live = table.c.deleted_at.is_(None)
    q = call_tables.quarantine
    in_use: set[str] = set()
    for start in range(0, len(paths), 500):
        chunk = list(paths[start : start + 500])
        in_use.update(
            str(row[0])
            for row in connection.execute(
                sa.select(table.c.source_file)
                .where(table.c.tenant_id == tenant_id, table.c.source_file.in_(chunk), live)
                .distinct()
            )
        )
        in_use.update(
            str(row[0])
            for row in connection.execute(
                sa.select(q.c.source_file)
                .where(
                    q.c.tenant_id == tenant_id,
                    q.c.asset == asset,
                    q.c.source_file.in_(chunk),
                    q.c.purged_at.is_(None),
                )
                .distinct()
            )
        )
    return in_use


def _withdraw_files_still_in_use(
    connection: sa.Connection,
    plan_id: str,
    items: pd.DataFrame,
    run_id: str,
    outcome: ExecutionOutcome,
) -> pd.DataFrame:
    """Right before deleting landing files: withdraw those a row still comes from (a row held
    or kept since planning, a line re-ingested), so a file never goes before its rows."""
    files = items.loc[items["record_type"].isin(list(SOURCE_FILE_TYPES))]
    if files.empty:
        return items
    withdraw: list[int] = []
    for (tenant_id, file_type), group in files.groupby(["tenant_id", "record_type"]):
        in_use = files_still_in_use(
            connection, str(tenant_id), str(file_type), group["artefact_id"].astype(str).tolist()
        )
        withdraw.extend(
            int(n) for n in group.loc[group["artefact_id"].isin(in_use), "item_no"].tolist()
        )
    if not withdraw:
        return items
    _set_items(
        connection,
        plan_id,
        withdraw,
        status="withdrawn",
        detail="sources_live",
        now=datetime.now(UTC),
        run_id=run_id,
    )
    outcome.withdrawn["sources_live"] += len(withdraw)
    return items.loc[~items["item_no"].isin(withdraw)]


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
    claims: ClaimPolicy | None = None,
) -> ExecutionOutcome:
    """Run every unfinished batch of an approved plan; per-object failures are recorded.

    Refuses (``PurgeBusy``) while another run holds the plan, and stops before the next batch
    when its own claim was taken over; any other failure releases the claim so the next run
    can resume at once."""
    with warehouse.begin() as connection:
        plan = _take_claim(connection, plan_id, run_id, claims or ClaimPolicy())
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
    try:
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
                        f"new legal hold(s) during the purge: {sum(withdrawn.values())} "
                        "item(s) withdrawn"
                    )
            known_holds = current_holds
            _run_batch(
                warehouse, store, plan_id, plan["scope_tenant_id"], batch_no, run_id, outcome
            )
            outcome.batches_run += 1
    except PurgeBusy:
        raise  # the claim is another run's now: not ours to release
    except BaseException:
        release_claim(warehouse, plan_id, run_id)
        raise
    return outcome


def _renew_claim(
    connection: sa.Connection, plan_id: str, scope: str | None, run_id: str, batch_no: int
) -> None:
    """Under the scope lock: stop unless this run still holds the plan, then renew the claim."""
    lock_scope(connection, scope)
    holder = connection.execute(
        sa.select(purge_plans.c.claimed_by_run).where(purge_plans.c.plan_id == plan_id)
    ).scalar()
    if holder != run_id:
        raise PurgeBusy(
            f"run {run_id} no longer holds purge plan {plan_id} (claimed by "
            f"{holder or 'nobody'}): it stops before batch {batch_no}"
        )
    _set_plan(connection, plan_id, claim_heartbeat_at=datetime.now(UTC))


def _run_batch(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    plan_id: str,
    scope: str | None,
    batch_no: int,
    run_id: str,
    outcome: ExecutionOutcome,
) -> None:
    with warehouse.begin() as connection:
        _renew_claim(connection, plan_id, scope, run_id, batch_no)
        items = _batch_items(connection, plan_id, batch_no)
        items = _withdraw_files_still_in_use(connection, plan_id, items, run_id, outcome)
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
    claims: ClaimPolicy | None = None,
) -> ProofOutcome:
    """Verify, write the proof-of-deletion manifest and close the plan (with failures if any)."""
    with warehouse.begin() as connection:
        _take_claim(connection, plan_id, run_id, claims or ClaimPolicy())
    try:
        return _prove(warehouse, store, plan_id, run_id, actor)
    except BaseException:
        release_claim(warehouse, plan_id, run_id)
        raise


def _prove(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    plan_id: str,
    run_id: str,
    actor: str,
) -> ProofOutcome:
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
            **_NO_CLAIM,
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
