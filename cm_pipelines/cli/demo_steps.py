"""The steps of ``cm demo``: each runs jobs through the project's instance (so the runs show in
the UI) and returns one summary line, counts only.

Each capability contributes a step to ``DEMO_STEPS``. This module imports every capability's
services; ``cm_pipelines.cli.demo`` loads it only when the demo runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.access.approvals import decide, load_approval, open_approval
from cm_pipelines.cli.command_context import open_warehouse, platform_config, tenant_named
from cm_pipelines.cli.dsar import submit_request
from cm_pipelines.dncr.run_config import refresh_run_config, wash_run_config
from cm_pipelines.domain.operations.roles import BREAKER_OVERRIDE, ERASURE
from cm_pipelines.domain.retention.policies import PolicyVersion
from cm_pipelines.dsar import key_handoff
from cm_pipelines.dsar.fulfil.step_log import store_results
from cm_pipelines.dsar.request_changes import verify_request
from cm_pipelines.dsar.run_config import JOB_NAME, REQUEST_TAG, fulfilment_run_config
from cm_pipelines.platform import settings
from cm_pipelines.platform.instance import run_job
from cm_pipelines.platform.run_tags import partition_range_tags
from cm_pipelines.retention.holds import add_hold
from cm_pipelines.retention.override_approvals import (
    ask_for_override,
    override_config,
    override_target,
)
from cm_pipelines.retention.policy_versions import record_operator_policy
from cm_pipelines.tables.calls import recordings

DEMO_TAGS = {"cm/actor": "demo", "cm/trigger": "demo"}


@dataclass
class DemoContext:
    instance: dg.DagsterInstance
    world: Any
    days: list[str]
    notes: dict[str, Any] = field(default_factory=dict)


class DemoStepFailed(RuntimeError):
    """A job of the demo failed; the run id points at its logs in the UI."""


def run_and_require(
    context: DemoContext, job_name: str, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    result = run_job(job_name, instance=context.instance, **kwargs)
    if not result.success:
        raise DemoStepFailed(
            f"{job_name} failed (run {result.run_id}); open it in the UI for details"
        )
    return result


def materialized(result: dg.ExecuteInProcessResult, asset: str) -> list[dict[str, Any]]:
    """The metadata of every materialization of ``asset`` in the run, in event order."""
    found = []
    for event in result.get_asset_materialization_events():
        item = event.materialization
        if item is not None and item.asset_key.to_user_string() == asset:
            found.append({key: value.value for key, value in item.metadata.items()})
    return found


def last_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    found = materialized(result, asset)
    return found[-1] if found else {}


def ingest_calls(context: DemoContext) -> str:
    total = 0
    for day in context.days:
        result = run_and_require(context, "call_ingestion_job", partition_key=day)
        total += sum(int(item["rows_inserted"]) for item in materialized(result, "call_records"))
    return f"ingestion: {total} call records over {len(context.days)} call days"


def verify_and_overview(context: DemoContext) -> str:
    """Last step: verify the audit chain every other step wrote to, then render the overview."""
    result = run_and_require(context, "trust_daily_job")
    chain = last_metadata(result, "audit_chain")
    overview = last_metadata(result, "compliance_overview")
    if not chain["ok"]:
        raise DemoStepFailed(f"audit chain broken: {chain['verdict']}")
    return (
        f"trust: audit chain intact ({chain['entries_checked']} entries, head anchored); "
        f"overview of {overview['tenants']} tenants: {overview['open_dsars']} open DSARs "
        f"({overview['overdue_dsars']} overdue), {overview['active_holds']} active holds"
    )


DSAR_DEMO_TYPES = (
    "access",
    "portability",
    "restriction",
    "rectification",
    "objection",
    "withdraw_consent",
    "erasure",  # last: it removes data the others read
)


def fulfil_dsars(context: DemoContext) -> str:
    """One data-subject request of each type on the world's subjects, verified and fulfilled
    through ``dsar_fulfillment_job``; export keys are received in memory and dropped."""
    subjects = list(context.world.subjects)
    if not subjects:
        raise DemoStepFailed("the generated world has no DSAR subjects")
    warehouse = open_warehouse()
    counts: dict[str, int] = {"packages": 0, "erased": 0, "exempted": 0, "approved": 0}
    for index, request_type in enumerate(DSAR_DEMO_TYPES):
        person = subjects[index % len(subjects)]
        extra = {}
        if request_type == "rectification":
            extra = {"new_email": f"corrected.{index}@example.org"}
        submitted = submit_request(
            tenant=person["tenant_id"],
            request_type=request_type,
            identifiers=[("phone", person["e164"]), ("email", person["email"])],
            submitted_by="demo",
            **extra,
        )
        request_id = submitted["request_id"]
        with warehouse.begin() as connection:
            verify_request(connection, request_id, method="demo_identity_check", verified_by="demo")
        with key_handoff.expect_key(request_id) as receiver:
            run_kwargs: dict[str, Any] = {
                "run_config": fulfilment_run_config(request_id),
                "tags": {REQUEST_TAG: request_id, "cm/trigger": "demo"},
            }
            stopped = run_job(JOB_NAME, instance=context.instance, **run_kwargs)
            if not stopped.success:  # an erasure above the threshold waits for a second person
                if not second_person_approves(ERASURE, request_id):
                    raise DemoStepFailed(f"{JOB_NAME} failed (run {stopped.run_id})")
                counts["approved"] += 1
                run_and_require(context, JOB_NAME, **run_kwargs)
        counts["packages"] += int(receiver.key is not None)
        if request_type == "erasure":
            with warehouse.connect() as connection:
                located = store_results(connection, request_id)["locate"]
            counts["erased"] = sum(v["acted"] for v in located.values())
            counts["exempted"] = sum(v["exempted"] for v in located.values())
    # One request stays open, awaiting verification, so the SLA asset and the overview have a
    # statutory clock to show (received 20 days ago: GDPR leaves about 10 days).
    waiting = subjects[-1]
    received = (datetime.now(UTC) - timedelta(days=20)).isoformat(timespec="seconds")
    submit_request(
        tenant=waiting["tenant_id"],
        request_type="access",
        identifiers=[("email", waiting["email"])],
        jurisdiction="gdpr",
        received_at=received,
        submitted_by="demo",
    )
    run_and_require(context, "dsar_sla_job")
    return (
        f"dsar: {len(DSAR_DEMO_TYPES)} requests completed (one of each type); "
        f"{counts['packages']} encrypted packages; erasure acted on {counts['erased']} records, "
        f"{counts['exempted']} exempted, certificate written"
        f"{' after a second privacy officer approved it' if counts['approved'] else ''}; "
        "1 request awaiting verification"
    )


RETENTION_DEMO_TENANT = "gamma-sg"


def _shorten_recordings_and_hold(tenant_id: str) -> tuple[PolicyVersion, str | None]:
    """An operator policy version (recordings kept 1 day from today) so the generated days fall
    due, and a legal hold on the oldest live recording's call; returns both."""
    tenant = tenant_named(tenant_id)
    with open_warehouse().begin() as connection:
        version = record_operator_policy(
            connection,
            tenant_id=tenant.id,
            record_type="recordings",
            retention_days=1,
            effective_from=datetime.now(UTC).date(),
            actor="demo",
        )
        oldest = connection.execute(
            sa.select(recordings.c.call_id)
            .where(recordings.c.tenant_id == tenant.id, recordings.c.deleted_at.is_(None))
            .order_by(recordings.c.partition_date, recordings.c.call_id)
            .limit(1)
        ).scalar()
        if oldest is not None:
            add_hold(
                connection,
                tenant,
                call_id=oldest,
                reason="demo: complaint under investigation",
                actor="demo",
                hash_key=settings.identifier_hash_key(),
            )
    return version, oldest


DEMO_REQUESTER = "cli:dana"
DEMO_APPROVER = "omar"


def second_person_approves(action: str, target: str) -> bool:
    """The demo's second privacy officer approves the open approval of ``action`` on
    ``target`` (as a person would with ``cm approve``); False when there is none."""
    approver = platform_config().identities()[DEMO_APPROVER]
    with open_warehouse().begin() as connection:
        waiting = open_approval(connection, action, target)
        if waiting is None or waiting["state"] != "pending":
            return False
        decide(connection, waiting["approval_id"], approver, approve=True, reason="demo")
    return True


def _purge_with_override(
    context: DemoContext, tenant_id: str
) -> tuple[dg.ExecuteInProcessResult, bool]:
    """A purge of the tenant; when its circuit breaker refuses (as it should after the policy
    change), an override asked for by a data engineer and approved by a privacy officer, and a
    second run under it. Returns the last run and whether the breaker refused."""
    config: dict[str, Any] = {"tenant": tenant_id}
    first = run_job(
        "retention_purge_job",
        instance=context.instance,
        run_config={"ops": {"retention_purge_plan": {"config": config}}},
        tags=DEMO_TAGS,
    )
    if first.success:
        return first, False
    if not [e for e in first.get_asset_check_evaluations() if not e.passed]:
        raise DemoStepFailed(f"retention_purge_job failed (run {first.run_id})")
    limits = {"max_tenant_share": 0.2, "max_plan_items": 250_000}
    with open_warehouse().begin() as connection:
        asked = ask_for_override(
            connection,
            tenant_id,
            "demo: first purge after shortening the recordings policy",
            DEMO_REQUESTER,
            limits,
        )
    second_person_approves(BREAKER_OVERRIDE, override_target(tenant_id))
    with open_warehouse().connect() as connection:
        config.update(override_config(load_approval(connection, asked["approval_id"])))
    second = run_and_require(
        context,
        "retention_purge_job",
        run_config={"ops": {"retention_purge_plan": {"config": config}}},
        tags=DEMO_TAGS,
    )
    return second, True


def retention_states_hold_and_purge(context: DemoContext) -> str:
    """Retention states, then a policy change (recordings kept 1 day from today, an operator
    version) so the generated days fall due, a legal hold on one due call, and a purge: the
    circuit breaker refuses the first attempt, an override approved by a second person lets it
    through."""
    states = last_metadata(run_and_require(context, "retention_states_job"), "retention_states")
    version, held = _shorten_recordings_and_hold(RETENTION_DEMO_TENANT)
    result, refused = _purge_with_override(context, RETENTION_DEMO_TENANT)
    proof = last_metadata(result, "retention_proof_of_deletion")
    # record the states after the purge, so the overview shows what is now purged and held
    run_and_require(context, "retention_states_job")
    by_state = states.get("by_state", {})
    return (
        f"retention: {states.get('artefacts', 0)} artefacts "
        f"({by_state.get('active', 0)} active, {by_state.get('due', 0)} due), "
        f"{states.get('due_next_30_days', 0)} due within 30 days; policy {version.id} "
        f"(1 day) applied; {'breaker refused, override approved by a second person; ' if refused else ''}"
        f"purged {proof.get('purged', 0)} artefacts ({proof.get('objects_deleted', 0)} objects), "
        f"{1 if held is not None else 0} held call kept; proof {proof.get('proof_path', '-')}"
    )


def count_call_volumes(context: DemoContext) -> str:
    """One run over every demo day (the asset's single-run backfill policy), after the purge."""
    result = run_and_require(
        context, "call_volumes_job", tags=partition_range_tags(context.days[0], context.days[-1])
    )
    # one materialization per day of the range, each carrying the run's totals
    totals = last_metadata(result, "call_day_volumes")
    calls, tenant_days = int(totals.get("calls", 0)), int(totals.get("tenant_days", 0))
    return (
        f"call volumes: {tenant_days} tenant-days over {len(context.days)} call days counted "
        f"in one run ({calls} live calls after the purge)"
    )


def refresh_registries_and_wash(context: DemoContext) -> str:
    """Refresh every registry from the generated files (full download, wash results), ingest
    consents and wash every campaign list; counts only."""
    refreshed = run_and_require(
        context, "dncr_registry_refresh_job", run_config=refresh_run_config()
    )
    promoted = int(last_metadata(refreshed, "dncr_registry_promotion").get("promoted_count", 0))
    result = run_and_require(context, "dncr_wash_job", run_config=wash_run_config())
    washed = last_metadata(result, "dncr_wash_results")
    return (
        f"dncr: {promoted} registry versions promoted; {washed.get('campaigns', 0)} campaign lists "
        f"washed: {washed.get('numbers', 0)} numbers, {washed.get('allowed', 0)} allowed, "
        f"{washed.get('blocked', 0)} blocked"
    )


def audit_placed_calls(context: DemoContext) -> str:
    """The post-call audit of every demo day: the generated campaign calls were placed before
    the demo's wash, so most are reported as calls without evidence; counts only."""
    audited = violations = 0
    for day in context.days:
        result = run_and_require(context, "dncr_post_call_audit_job", partition_key=day)
        metadata = last_metadata(result, "dncr_post_call_audit")
        audited += int(metadata.get("calls_audited", 0))
        violations += int(metadata.get("violations", 0))
    return (
        f"post-call audit: {audited} outbound campaign calls over {len(context.days)} days, "
        f"{violations} violations (check dncr_post_call_violations)"
    )


DEMO_STEPS: list[tuple[str, Callable[[DemoContext], str]]] = [
    ("ingest call days", ingest_calls),
    ("fulfil a data-subject request of each type", fulfil_dsars),
    ("refresh do-not-call registries, wash campaign lists", refresh_registries_and_wash),
    ("audit placed calls against do-not-call decisions", audit_placed_calls),
    ("retention states, a legal hold and a guarded purge", retention_states_hold_and_purge),
    ("count call volumes over the demo days in one run", count_call_volumes),
    # keep last: it verifies the chain every step above appended to
    ("verify audit log, render compliance overview", verify_and_overview),
]
