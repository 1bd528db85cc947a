"""Retention assets: every artefact's state (daily) and the guarded, resumable purge.

``retention_states`` records each artefact's state (active, due, held, purged) with its expiry
date, deciding policy version and basis. The purge is three assets and one blocking check in
one job (``retention_purge_job``): the plan stores the manifest, the guard check
(``quality_checks.retention``) blocks the run unless nothing planned is held or not yet due and
the circuit breaker holds (or an audited operator override is given), then execution deletes in
batches and the proof step writes the proof-of-deletion manifest. The logic lives in
``retention_engine``; these assets wire it to resources and report counts.

Purges are split by tenant: the nightly schedule requests one run per tenant, tagged
``cm/exclusive_tenant`` so the run queue never starts two runs of one tenant, and the engine's
claims and scope locks refuse an overlapping run that gets past the queue anyway.
"""

from collections import Counter
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import Field

from cm_pipelines.domain.retention.rules import (
    DEFAULT_MAX_PLAN_ITEMS,
    DEFAULT_MAX_TENANT_SHARE,
    STATES,
    BreakerLimits,
    PolicyBook,
    due_within,
    state_counts,
)
from cm_pipelines.domain.tenants import RECORD_TYPES
from cm_pipelines.platform import settings
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.configuration import PlatformConfigResource, file_sha256
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.inventory import current_states, sync_policy_versions
from cm_pipelines.retention.purge.engine import (
    PurgeRefused,
    PurgeSettings,
    execute_plan,
    plan_for_run,
    prepare_plan,
    prove_plan,
    today_utc,
)
from cm_pipelines.retention.run_requests import claim_policy
from cm_pipelines.tables.retention import retention_states as states_table

RETENTION_GROUP = "retention"
PURGE_POOL = "retention_purge"
_HOLD_IDS_MAX = 500


def states_markdown(counts: pd.DataFrame) -> str:
    """One row per tenant x record type, a column per state (ids and counts only)."""
    header = "| tenant | record type | " + " | ".join(STATES) + " |"
    rule = "|---|---|" + "---:|" * len(STATES)
    lines = [header, rule]
    for row in counts.itertuples(index=False):
        values = " | ".join(str(int(getattr(row, state))) for state in STATES)
        lines.append(f"| {row.tenant_id} | {row.record_type} | {values} |")
    return "\n".join(lines)


def _policies_in_force(
    book: PolicyBook, tenant_ids: list[str], as_of: date
) -> dict[str, dict[str, str]]:
    summary: dict[str, dict[str, str]] = {}
    for tenant_id in tenant_ids:
        for record_type in RECORD_TYPES:
            version = book.in_force(tenant_id, record_type, as_of)
            if version is not None:
                summary.setdefault(tenant_id, {})[record_type] = (
                    f"v{version.version}: {version.retention_days}d"
                )
    return summary


def _states_rows(states: pd.DataFrame, as_of, run_id: str) -> pd.DataFrame:
    hold_ids = states["hold_ids"].where(states["hold_ids"] != "", None)
    too_long = hold_ids.notna() & (hold_ids.str.len() > _HOLD_IDS_MAX)
    if too_long.any():
        hold_ids = hold_ids.where(
            ~too_long,
            hold_ids.str.slice(0, _HOLD_IDS_MAX - 20).str.rsplit(",", n=1).str[0] + ",...",
        )
    basis_date = pd.to_datetime(states["basis_date"], errors="coerce")
    return pd.DataFrame(
        {
            "tenant_id": states["tenant_id"],
            "record_type": states["record_type"],
            "artefact_id": states["artefact_id"],
            "call_id": states["call_id"],
            "state": states["state"],
            "basis": states["basis"],
            "expiry_basis": states["expiry_basis"],
            "policy_version": states["policy_version"],
            "basis_date": basis_date.dt.date.where(basis_date.notna(), None),
            "expires_on": states["expires_on"],
            "hold_ids": hold_ids,
            "as_of": as_of,
            "computed_at": datetime.now(UTC),
            "run_id": run_id,
        }
    )


@dg.asset(
    group_name=RETENTION_GROUP,
    deps=["tenants", "call_records", "recordings", "transcripts", "ai_summaries", "crm_links"],
    kinds={"python", "sql"},
    tags={"cm/capability": "retention"},
)
def retention_states(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Every artefact's retention state today (active, due, held, purged) with its expiry date,
    the policy version that decided it and the basis (own policy, inherited from its recording
    or call, legal hold). Policy changes in the tenants file are recorded as new versions first."""
    warehouse.assert_schema_current()
    as_of = today_utc()
    tenants = platform_config.tenants()
    with warehouse.begin() as connection:
        recorded = sync_policy_versions(
            connection,
            tenants,
            as_of=as_of,
            run_id=context.run.run_id,
            config_sha256=file_sha256(platform_config.tenants_path()),
        )
    with warehouse.connect() as connection:
        states, book = current_states(
            connection, as_of=as_of, hash_key=settings.identifier_hash_key()
        )
    rows = _states_rows(states, as_of, context.run.run_id)
    with warehouse.begin() as connection:
        connection.execute(sa.delete(states_table))
        bulk_insert(connection, states_table, rows)
    counts = state_counts(states)
    by_state = Counter(states["state"]) if not states.empty else Counter()
    due_7_by_tenant = {
        str(tenant_id): due_within(group, as_of, 7)
        for tenant_id, group in states.groupby("tenant_id")
    }
    held_past_expiry = (
        int(
            (
                (states["state"] == "held")
                & pd.to_datetime(states["expires_on"]).le(pd.Timestamp(as_of)).fillna(False)
            ).sum()
        )
        if not states.empty
        else 0
    )
    if recorded:
        context.log.info(f"{len(recorded)} new policy version(s) recorded from the tenants file")
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "artefacts": len(states),
            "by_state": dg.MetadataValue.json(
                {state: int(by_state.get(state, 0)) for state in STATES}
            ),
            "states_by_tenant_and_type": dg.MetadataValue.md(states_markdown(counts)),
            "due_next_7_days": due_within(states, as_of, 7),
            "due_next_30_days": due_within(states, as_of, 30),
            "due_next_7_days_by_tenant": dg.MetadataValue.json(due_7_by_tenant),
            "held_past_expiry": held_past_expiry,
            "policy_versions_recorded": len(recorded),
            "policies_in_force": dg.MetadataValue.json(
                _policies_in_force(book, sorted({t.id for t in tenants}), as_of)
            ),
        }
    )


class RetentionPurgeConfig(dg.Config):
    """Run config of the purge (set on ``retention_purge_plan``)."""

    tenant: str = Field(default="", description="Purge only this tenant; empty: every tenant.")
    override_reason: str = Field(
        default="",
        description="Operator override of the circuit breaker: why. Stored on the plan, audited.",
    )
    override_by: str = Field(
        default="", description="Who overrides (defaults to the cm/actor tag)."
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


@dg.asset(
    group_name=RETENTION_GROUP,
    deps=["tenants"],
    kinds={"python", "sql"},
    tags={"cm/capability": "retention"},
)
def retention_purge_plan(
    context: dg.AssetExecutionContext,
    config: RetentionPurgeConfig,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """The manifest of what is due, stored before anything is deleted; an unfinished plan is
    resumed instead (same items, those now held or no longer due withdrawn)."""
    warehouse.assert_schema_current()
    purge = purge_settings(config, dict(context.run.tags))
    try:
        outcome = prepare_plan(
            warehouse,
            object_store,
            platform_config.tenants(),
            purge,
            run_id=context.run.run_id,
            hash_key=settings.identifier_hash_key(),
            config_sha256=file_sha256(platform_config.tenants_path()),
            claims=claim_policy(context.instance),
        )
    except PurgeRefused as exc:
        raise dg.Failure(description=str(exc)) from exc
    if outcome.resumed:
        context.log.info(
            f"resuming purge plan {outcome.plan_id} ({outcome.status}); "
            f"{sum(outcome.withdrawn.values())} item(s) withdrawn"
        )
    return dg.MaterializeResult(
        metadata={
            "plan_id": outcome.plan_id,
            "resumed": outcome.resumed,
            "items": outcome.item_count,
            "objects": outcome.object_count,
            "batches": outcome.batch_count,
            "items_sha256": outcome.items_sha256,
            "manifest_path": outcome.manifest_path or "",
            "withdrawn": dg.MetadataValue.json(dict(outcome.withdrawn)),
            "superseded_plans": dg.MetadataValue.json(outcome.superseded),
            "items_by_tenant_and_type": dg.MetadataValue.json(outcome.by_tenant_type),
            "override_given": bool(purge.override_reason),
        }
    )


@dg.asset(
    group_name=RETENTION_GROUP,
    deps=[retention_purge_plan],
    kinds={"python", "sql"},
    pool=PURGE_POOL,
    tags={"cm/capability": "retention"},
)
def retention_purge_execution(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """The approved plan executed batch by batch: objects deleted and confirmed gone, then rows
    marked purged and wiped, tombstones written. Objects that refuse deletion fail the run."""
    warehouse.assert_schema_current()
    plan = plan_for_run(warehouse, context.run.run_id)
    try:
        outcome = execute_plan(
            warehouse,
            object_store,
            plan["plan_id"],
            run_id=context.run.run_id,
            hash_key=settings.identifier_hash_key(),
            log=context.log.warning,
            claims=claim_policy(context.instance),
        )
    except PurgeRefused as exc:
        raise dg.Failure(description=str(exc)) from exc
    metadata = {
        "plan_id": plan["plan_id"],
        "batches_run": outcome.batches_run,
        "rows_purged": outcome.rows_purged,
        "objects_deleted": outcome.objects_deleted,
        "already_gone": outcome.already_gone,
        "objects_refused": sum(outcome.failed.values()),
        "refusal_codes": dg.MetadataValue.json(dict(outcome.failed)),
        "withdrawn_during_run": dg.MetadataValue.json(dict(outcome.withdrawn)),
        "purged_by_type": dg.MetadataValue.json(dict(outcome.by_record_type)),
    }
    if outcome.failed:
        proof = prove_plan(
            warehouse,
            object_store,
            plan["plan_id"],
            run_id=context.run.run_id,
            claims=claim_policy(context.instance),
        )
        refused = sum(outcome.failed.values())
        context.log.error(
            f"{refused} object(s) refused deletion {dict(outcome.failed)}; their rows stay live. "
            f"Proof of what was deleted: {proof.path}"
        )
        raise dg.Failure(
            description=f"{refused} object(s) of plan {plan['plan_id']} refused deletion; "
            "their rows were kept live and will be retried by the next purge",
            metadata={**metadata, "proof_path": proof.path, "proof_sha256": proof.sha256},
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name=RETENTION_GROUP,
    deps=[retention_purge_execution],
    kinds={"python", "json"},
    tags={"cm/capability": "retention"},
)
def retention_proof_of_deletion(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Proof-of-deletion manifest under ``audit/retention/proofs/``: counts per tenant and type,
    policy versions, digests of the plan and the tombstones, run ids; plus an audit entry."""
    warehouse.assert_schema_current()
    plan = plan_for_run(warehouse, context.run.run_id)
    try:
        proof = prove_plan(
            warehouse,
            object_store,
            plan["plan_id"],
            run_id=context.run.run_id,
            claims=claim_policy(context.instance),
        )
    except PurgeRefused as exc:
        raise dg.Failure(description=str(exc)) from exc
    totals = proof.document["totals"]
    metadata = {
        "plan_id": plan["plan_id"],
        "proof_path": proof.path,
        "proof_sha256": proof.sha256,
        "status": proof.status,
        "purged": totals["purged"],
        "objects_deleted": totals["objects_deleted"],
        "objects_verified_absent": totals["objects_verified_absent"],
        "withdrawn": totals["withdrawn"],
        "tombstones_sha256": proof.document["tombstones_sha256"],
        "by_tenant": dg.MetadataValue.json(proof.document["by_tenant"]),
        "policy_versions": dg.MetadataValue.json(proof.document["policy_versions"]),
    }
    if proof.status != "completed":
        raise dg.Failure(
            description=f"plan {plan['plan_id']} did not complete cleanly: "
            f"{totals['objects_still_present']} object(s) still present, "
            f"{totals['failed']} failed, {totals['pending']} pending",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)
