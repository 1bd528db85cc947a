"""``cm retention plan|purge|policies``: what a purge would take, a purge now, policy versions.

A purge is launched as a run of ``retention_purge_job`` through the project's Dagster instance,
so it shows in the UI. The purge services are imported inside the commands that use them
(see ``cm_pipelines.cli``: start-up cost).
"""

from __future__ import annotations

import json
from typing import Any

import click

from cm_pipelines.cli.command_context import (
    acting_as,
    actor_option,
    configured_tenants,
    open_warehouse,
    tenant_named,
)
from cm_pipelines.domain.retention.circuit_breaker import BreakerLimits
from cm_pipelines.platform import settings
from cm_pipelines.platform.instance import run_job
from cm_pipelines.platform.run_tags import exclusive_tenant_tags
from cm_pipelines.retention.policy_versions import load_policy_versions


@click.group("retention")
def retention_group() -> None:
    """Retention: dry-run plans, purges through the Dagster instance, policy versions."""


@retention_group.command("plan")
@click.option("--tenant", "tenant_id", default=None, help="Only this tenant.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--max-tenant-share", type=click.FloatRange(0, 1), default=0.2, show_default=True)
@click.option("--max-plan-items", type=click.IntRange(0), default=250_000, show_default=True)
def retention_plan(
    tenant_id: str | None, as_json: bool, max_tenant_share: float, max_plan_items: int
) -> None:
    """Dry run: what a purge would take today, under which policy version and why."""
    from cm_pipelines.retention.purge.dry_run import dry_run
    from cm_pipelines.retention.purge.plan_records import PurgeRefused

    tenants = configured_tenants()
    warehouse = open_warehouse()
    try:
        report = dry_run(
            warehouse,
            list(tenants.values()),
            hash_key=settings.identifier_hash_key(),
            tenant_id=tenant_id,
            limits=BreakerLimits(max_tenant_share, max_plan_items),
        )
    except PurgeRefused as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    click.echo(
        f"as of {report['as_of']}: {report['would_purge']} artefact(s) due "
        f"({report['objects']} object(s))"
    )
    for group in report["groups"]:
        click.echo(
            f"  {group['tenant_id']:<12} {group['record_type']:<16} {group['artefacts']:>8}  "
            f"policy {group['policy_version']}  basis {group['basis']}  "
            f"due since {group['oldest_expiry']}"
        )
    for key, count in sorted(report["held_past_expiry"].items()):
        click.echo(f"  kept by legal hold past expiry: {key} {count}")
    for change in report["unrecorded_policy_changes"]:
        click.echo(
            f"  tenants file change not yet recorded: {change['policy_version']} "
            f"({change['retention_days']} days, effective today)"
        )
    breaker = report["breaker"]
    if breaker["would_trip"]:
        click.echo("circuit breaker WOULD REFUSE this purge:")
        for reason in breaker["reasons"]:
            click.echo(f"  - {reason}")
        click.echo(
            "  (an override: cm retention purge --override-reason TEXT, then a second "
            "privacy officer's cm approve)"
        )
    else:
        click.echo("circuit breaker: would pass")


@retention_group.command("purge")
@click.option("--tenant", "tenant_id", default=None, help="Only this tenant.")
@click.option(
    "--override-reason",
    default=None,
    help="Ask for an override of a tripped circuit breaker, saying why: nothing runs until a "
    "second person approves it (cm approve), which then runs the purge.",
)
@click.option("--max-tenant-share", type=click.FloatRange(0, 1), default=0.2, show_default=True)
@click.option("--max-plan-items", type=click.IntRange(0), default=250_000, show_default=True)
@actor_option("purge (privacy officer, data engineer)")
def retention_purge(
    tenant_id: str | None,
    override_reason: str | None,
    max_tenant_share: float,
    max_plan_items: int,
    actor: str | None,
) -> None:
    """Run retention_purge_job now (plan, guard, execute, prove); it resumes an unfinished plan
    of the same scope and refuses while another purge of an overlapping scope is running."""
    from cm_pipelines.retention.override_approvals import ask_for_override

    identity = acting_as(actor, "retention.override" if override_reason else "retention.purge")
    if tenant_id is not None:
        tenant_named(tenant_id)
    warehouse = open_warehouse()
    limits = {"max_tenant_share": max_tenant_share, "max_plan_items": max_plan_items}
    if override_reason:
        try:
            with warehouse.begin() as connection:
                approval = ask_for_override(
                    connection, tenant_id, override_reason, identity.actor, limits
                )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"breaker override waits for approval {approval['approval_id']}: a second privacy "
            f"officer runs the purge with `cm approve {approval['approval_id']} --by NAME`"
        )
        return
    result = launch_purge(tenant_id, limits, identity.actor)
    print_purge(result)
    if not result.success:
        raise click.ClickException(
            f"purge run {result.run_id} failed; open it in the UI (cm ui) for the step logs"
        )


def launch_purge(
    tenant_id: str | None,
    limits: dict[str, Any],
    actor: str,
    *,
    override: dict[str, str] | None = None,
) -> Any:
    """A run of retention_purge_job in this process (recorded in the instance, so in the UI);
    ``override`` carries an approved breaker override (reason, requester, approval id)."""
    config: dict[str, Any] = {"tenant": tenant_id or "", **limits, **(override or {})}
    return run_job(
        "retention_purge_job",
        run_config={"ops": {"retention_purge_plan": {"config": config}}},
        # the run queue keeps two purges of one tenant ('*': every tenant) apart
        tags={"cm/actor": actor, "cm/trigger": "cli", **exclusive_tenant_tags(tenant_id)},
    )


def print_purge(result: Any) -> None:
    for line in _run_summary(result):
        click.echo(line)


def _run_summary(result: Any) -> list[str]:
    lines = [f"run {result.run_id}: {'success' if result.success else 'FAILED'}"]
    for event in result.all_events:
        if event.is_step_failure and event.step_key == "retention_purge_plan":
            error = event.step_failure_data.error
            if error is not None and error.message:
                # the engine's refusals name plans, runs and commands, never personal data
                text = error.message.strip().splitlines()[-1]
                kind, separator, reason = text.partition(": ")
                lines.append(
                    f"plan step refused: {reason if separator and ' ' not in kind else text}"
                )
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.check_name != "retention_purge_guard":
            continue
        metadata = {key: value.value for key, value in evaluation.metadata.items()}
        lines.append(
            f"guard: {'passed' if evaluation.passed else 'REFUSED'} "
            f"(held {metadata.get('held_items')}, not due {metadata.get('not_due_items')}, "
            f"override used {metadata.get('override_used')})"
        )
        for reason in metadata.get("breaker_reasons") or []:
            lines.append(f"  - {reason}")
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization is None:
            continue
        name = materialization.asset_key.path[-1]
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        if name == "retention_purge_plan":
            lines.append(
                f"plan {metadata.get('plan_id')}: {metadata.get('items')} item(s), "
                f"{metadata.get('objects')} object(s), resumed={metadata.get('resumed')}"
            )
        elif name == "retention_proof_of_deletion":
            lines.append(
                f"purged {metadata.get('purged')} artefact(s), "
                f"{metadata.get('objects_deleted')} object(s); proof {metadata.get('proof_path')}"
            )
    return lines


@retention_group.command("policies")
@click.option("--tenant", "tenant_id", default=None)
def retention_policies(tenant_id: str | None) -> None:
    """Every recorded policy version (tenant, record type, days, effective from, source)."""
    if tenant_id is not None:
        tenant_named(
            tenant_id
        )  # an unknown or hostile id is refused, not silently matched to nothing
    warehouse = open_warehouse()
    with warehouse.connect() as connection:
        versions = load_policy_versions(connection)
    versions = [v for v in versions if tenant_id is None or v.tenant_id == tenant_id]
    if not versions:
        click.echo("no policy versions recorded yet (they are recorded by retention_states)")
    for version in sorted(versions, key=lambda v: (v.tenant_id, v.record_type, v.version)):
        click.echo(
            f"{version.id:<40} {version.retention_days:>6} days  from "
            f"{version.effective_from.isoformat()}  ({version.source})"
        )


def register(group: click.Group) -> None:
    group.add_command(retention_group)
