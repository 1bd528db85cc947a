"""Retention assets: every artefact's state (daily) and the guarded, resumable purge.

``retention_states`` records each artefact's state (active, due, held, purged) with its expiry
date, deciding policy version and basis. The purge is three assets and one blocking check in
one job (``retention_purge_job``): the plan stores the manifest, the guard check
(``retention.checks``) blocks the run unless nothing planned is held or not yet due and
the circuit breaker holds (or an override a second person approved is given), then execution deletes in
batches and the proof step writes the proof-of-deletion manifest. The logic lives in
``retention.purge`` and ``retention.daily_states``; these assets wire it to resources and report
counts.

Purges are split by tenant: the nightly schedule requests one run per tenant, tagged
``cm/exclusive_tenant`` so the run queue never starts two runs of one tenant, and the purge's
claims and scope locks refuse an overlapping run that gets past the queue anyway.
"""

from dataclasses import replace

import dagster as dg

from cm_pipelines.access.approvals import ApprovalError
from cm_pipelines.platform import settings
from cm_pipelines.resources.configuration import PlatformConfigResource, file_sha256
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.current_states import today_utc
from cm_pipelines.retention.daily_states import record_states, summarise_states
from cm_pipelines.retention.override_approvals import approved_override, close_override
from cm_pipelines.retention.policy_versions import sync_policy_versions
from cm_pipelines.retention.purge.execute import execute_plan
from cm_pipelines.retention.purge.plan import prepare_plan
from cm_pipelines.retention.purge.plan_records import PurgeRefused, plan_for_run
from cm_pipelines.retention.purge.prove import prove_plan
from cm_pipelines.retention.purge_config import RetentionPurgeConfig, purge_settings
from cm_pipelines.retention.run_requests import claim_policy

RETENTION_GROUP = "retention"
PURGE_POOL = "retention_purge"


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
    states, book = record_states(
        warehouse, as_of, hash_key=settings.identifier_hash_key(), run_id=context.run.run_id
    )
    summary = summarise_states(states, book, sorted({t.id for t in tenants}), as_of)
    if recorded:
        context.log.info(f"{len(recorded)} new policy version(s) recorded from the tenants file")
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "artefacts": len(states),
            "by_state": dg.MetadataValue.json(summary.by_state),
            "states_by_tenant_and_type": dg.MetadataValue.md(summary.markdown),
            "due_next_7_days": summary.due_next_7_days,
            "due_next_30_days": summary.due_next_30_days,
            "due_next_7_days_by_tenant": dg.MetadataValue.json(summary.due_next_7_days_by_tenant),
            "held_past_expiry": summary.held_past_expiry,
            "policy_versions_recorded": len(recorded),
            "policies_in_force": dg.MetadataValue.json(summary.policies_in_force),
        }
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
    if purge.override_reason:  # only under a second person's approval, whoever launched it
        try:
            with warehouse.connect() as connection:
                approval = approved_override(
                    connection, config.override_approval, purge.tenant_id, purge.override_reason
                )
        except ApprovalError as exc:
            raise dg.Failure(description=f"override refused: {exc}", allow_retries=False) from None
        purge = replace(purge, override_by=str(approval["requested_by"]))
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
    if purge.override_reason:
        with warehouse.begin() as connection:
            close_override(connection, config.override_approval, context.run.run_id)
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
