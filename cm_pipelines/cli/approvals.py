"""``cm approvals``, ``cm approve``, ``cm reject``: the second person's side of four eyes.

An erasure above the threshold, a circuit-breaker override and a legal hold's release are
asked for by one identity and do nothing until a different identity with an approving role
approves them here; approving then performs the action (releases the hold, runs the purge
with the override, runs the erasure) in the approver's session, every step audited.
"""

from __future__ import annotations

import json
from typing import Any

import click

from cm_pipelines.access.approvals import (
    ApprovalError,
    complete,
    decide,
    list_approvals,
    load_approval,
)
from cm_pipelines.cli.command_context import named_identity, open_warehouse
from cm_pipelines.domain.operations.roles import (
    BREAKER_OVERRIDE,
    ERASURE,
    HOLD_RELEASE,
    AccessRefused,
    Identity,
    require_approver,
)


def _approve(approval_id: str, identity: Identity, reason: str | None) -> dict[str, Any]:
    """Record the decision (or, for an approved one whose action did not finish, re-check the
    approver) and return the approval; a hold release is done in the same transaction."""
    from cm_pipelines.retention.holds import HoldRequestError, release_hold

    warehouse = open_warehouse()
    try:
        with warehouse.begin() as connection:
            row = load_approval(connection, approval_id)
            if row["state"] == "pending":
                row = decide(connection, approval_id, identity, approve=True, reason=reason)
            elif row["state"] == "approved":  # approved before, its action did not finish
                asked = [row["requested_by"], str(row["details"].get("verified_by") or "")]
                require_approver(row["action"], asked, identity)
            else:
                raise ApprovalError(f"approval {approval_id} is {row['state']}")
            if row["action"] == HOLD_RELEASE:
                release_hold(
                    connection,
                    row["target"],
                    reason=row["reason"],
                    actor=row["requested_by"],
                    approved=row,
                )
                complete(connection, approval_id)
    except (ApprovalError, AccessRefused, HoldRequestError) as exc:
        raise click.ClickException(f"refused: {exc}") from None
    return row


def _run_override(row: dict[str, Any], identity: Identity) -> None:
    from cm_pipelines.cli.retention import launch_purge, print_purge
    from cm_pipelines.retention.override_approvals import override_config

    tenant_id = row["target"].removeprefix("retention:")
    limits = {key: row["details"][key] for key in ("max_tenant_share", "max_plan_items")}
    result = launch_purge(
        None if tenant_id == "*" else tenant_id,
        limits,
        identity.actor,
        override=override_config(row),
    )
    print_purge(result)
    if not result.success:
        raise click.ClickException(
            f"purge run {result.run_id} failed; the approval stays approved: after fixing what "
            f"the run says, run `cm approve {row['approval_id']} --by {identity.name}` again"
        )


def _run_erasure(row: dict[str, Any], identity: Identity) -> None:
    from cm_pipelines.cli.dsar import run_request

    outcome = run_request(row["target"], actor=identity.actor)
    if not outcome["success"]:
        raise click.ClickException(
            f"run {outcome['run_id']} failed: {outcome.get('error')} (request is "
            f"{outcome['state']})"
        )
    click.echo(f"{row['target']}: {outcome['state']} (run {outcome['run_id']})")
    if outcome["result_path"]:
        click.echo(f"certificate: {outcome['result_path']}")


@click.command("approve")
@click.argument("approval_id")
@click.option(
    "--by", "by", required=True, help="Who approves: a privacy officer of the roles file."
)
@click.option("--reason", default=None, help="Optional note on the decision (hashed in the audit).")
def approve_command(approval_id: str, by: str, reason: str | None) -> None:
    """Approve as a second person, then do what was asked: release the hold, run the purge
    with its breaker override, or run the erasure."""
    identity = named_identity(by)
    row = _approve(approval_id, identity, reason)
    click.echo(
        f"{approval_id}: {row['action'].replace('_', ' ')} of {row['target']} approved by "
        f"{identity.actor} (asked by {row['requested_by']})"
    )
    if row["action"] == HOLD_RELEASE:
        click.echo(f"released {row['target']}")
    elif row["action"] == BREAKER_OVERRIDE:
        _run_override(row, identity)
    elif row["action"] == ERASURE:
        _run_erasure(row, identity)


@click.command("reject")
@click.argument("approval_id")
@click.option("--by", "by", required=True, help="Who rejects: a privacy officer of the roles file.")
@click.option("--reason", required=True, help="Why (kept with the approval, hashed in the audit).")
def reject_command(approval_id: str, by: str, reason: str) -> None:
    """Reject what was asked: nothing is done, and asking again starts a new approval."""
    identity = named_identity(by)
    try:
        with open_warehouse().begin() as connection:
            decide(connection, approval_id, identity, approve=False, reason=reason)
    except (ApprovalError, AccessRefused) as exc:
        raise click.ClickException(f"refused: {exc}") from None
    click.echo(f"{approval_id}: rejected by {identity.actor}")


@click.command("approvals")
@click.option("--all", "include_closed", is_flag=True, help="Include decided and used ones.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def approvals_command(include_closed: bool, as_json: bool) -> None:
    """Approvals waiting for a second person (ids, actions, targets and who asked)."""
    with open_warehouse().connect() as connection:
        rows = list_approvals(connection, include_closed=include_closed)
    listed = [
        {
            "approval_id": row["approval_id"],
            "action": row["action"],
            "target": row["target"],
            "tenant_id": row["tenant_id"],
            "state": row["state"],
            "requested_by": row["requested_by"],
            "requested_at": str(row["requested_at"])[:19],
            "decided_by": row["decided_by"],
            "details": row["details"],
        }
        for row in rows
    ]
    if as_json:
        click.echo(json.dumps(listed, indent=2, sort_keys=True))
        return
    if not listed:
        click.echo("no approvals waiting" if not include_closed else "no approvals")
    for item in listed:
        decided = f"  decided by {item['decided_by']}" if item["decided_by"] else ""
        click.echo(
            f"{item['approval_id']}  {item['state']:<9} {item['action']:<16} {item['target']}  "
            f"asked by {item['requested_by']} {item['requested_at']}{decided}"
        )


def register(group: click.Group) -> None:
    for command in (approvals_command, approve_command, reject_command):
        group.add_command(command)
