"""``cm hold add|release|list``: legal holds, written straight to the warehouse (audited).

A hold keeps a call, a number or an address (with its whole lineage) out of purges and DSAR
erasure. A privacy officer places it; releasing it takes two: ``cm hold release`` asks for
the release and a second privacy officer completes it with ``cm approve``. Output masks
numbers and addresses; errors say what to fix and never echo a value.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import click

from cm_pipelines.access.approvals import ApprovalError, request_approval
from cm_pipelines.cli.command_context import (
    acting_as,
    actor_option,
    mask_email,
    mask_phone,
    open_warehouse,
    tenant_named,
)
from cm_pipelines.domain.operations.roles import HOLD_RELEASE
from cm_pipelines.platform import settings
from cm_pipelines.retention.holds import (
    HoldRequestError,
    active_hold,
    add_hold,
    require_known_target,
)
from cm_pipelines.retention.inventory.legal_holds import load_holds


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _masked_target(hold: dict[str, Any]) -> str:
    if hold["scope"] == "call":
        return str(hold["call_id"])
    if hold["scope"] == "phone":
        return mask_phone(str(hold["e164"]))
    return mask_email(str(hold["email"]))


@click.group("hold")
def hold_group() -> None:
    """Legal holds: keep a call, number or address out of purges and DSAR erasure."""


@hold_group.command("add")
@click.option("--tenant", "tenant_id", required=True, help="Tenant id, e.g. acme-au.")
@click.option("--call", "call_id", default=None, help="Hold one call (its uniqueid).")
@click.option("--phone", default=None, help="Hold every call and record of a number.")
@click.option("--email", default=None, help="Hold every call linked to an address (CRM).")
@click.option("--from", "from_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--to", "to_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--reason", required=True, help="Why (matter, ticket); stored, hashed in the audit.")
@click.option(
    "--allow-unknown",
    is_flag=True,
    help="Hold a call, number or address the tenant has no record of yet (data still to arrive).",
)
@actor_option("place a hold (privacy officer)")
def hold_add(
    tenant_id, call_id, phone, email, from_date, to_date, reason, allow_unknown, actor
) -> None:
    """Place a legal hold (call, phone or email scope, optional call-date bounds). A call,
    number or address the tenant has no record of is refused (a typo would hold nothing),
    unless --allow-unknown says the hold is for data still to arrive."""
    identity = acting_as(actor, "hold.add")
    tenant = tenant_named(tenant_id)
    warehouse = open_warehouse()
    try:
        with warehouse.begin() as connection:
            if not allow_unknown:
                require_known_target(connection, tenant, call_id=call_id, phone=phone, email=email)
            hold_id = add_hold(
                connection,
                tenant,
                call_id=call_id,
                phone=phone,
                email=email,
                from_date=_day(from_date),
                to_date=_day(to_date),
                reason=reason,
                actor=identity.actor,
                hash_key=settings.identifier_hash_key(),
            )
    except HoldRequestError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(hold_id)


@hold_group.command("release")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the hold ends; stored, hashed in the audit.")
@actor_option("ask for a release (privacy officer)")
def hold_release(hold_id: str, reason: str, actor: str | None) -> None:
    """Ask for a legal hold's release; a second privacy officer completes it (`cm approve`),
    and only then may the next purge take what it kept."""
    identity = acting_as(actor, "hold.release")
    warehouse = open_warehouse()
    try:
        with warehouse.begin() as connection:
            hold = active_hold(connection, hold_id)
            approval = request_approval(
                connection,
                action=HOLD_RELEASE,
                target=hold_id,
                tenant_id=hold["tenant_id"],
                reason=reason,
                requested_by=identity.actor,
                details={"scope": hold["scope"]},
            )
    except (HoldRequestError, ApprovalError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"release of {hold_id} waits for approval {approval['approval_id']}: a second privacy "
        f"officer completes it with `cm approve {approval['approval_id']} --by NAME`"
    )


@hold_group.command("list")
@click.option("--tenant", "tenant_id", default=None)
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def hold_list(tenant_id: str | None, include_released: bool, as_json: bool) -> None:
    """List holds, numbers and addresses masked."""
    if tenant_id is not None:
        tenant_named(
            tenant_id
        )  # an unknown or hostile id is refused, not silently matched to nothing
    warehouse = open_warehouse()
    with warehouse.connect() as connection:
        holds = load_holds(
            connection,
            None if tenant_id is None else {tenant_id},
            include_released=include_released,
        )
    rows = [
        {
            "hold_id": hold["hold_id"],
            "tenant_id": hold["tenant_id"],
            "scope": hold["scope"],
            "target": _masked_target(hold),
            "from": str(hold["from_date"] or ""),
            "to": str(hold["to_date"] or ""),
            "created_at": str(hold["created_at"])[:19],
            "created_by": hold["created_by"],
            "released_at": str(hold["released_at"] or "")[:19],
            "reason": hold["reason"],
        }
        for hold in holds
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no legal holds")
        return
    for row in rows:
        released = f"  released {row['released_at']}" if row["released_at"] else ""
        bounds = f"  {row['from'] or '…'}..{row['to'] or '…'}" if row["from"] or row["to"] else ""
        click.echo(
            f"{row['hold_id']}  {row['tenant_id']}  {row['scope']}:{row['target']}{bounds}  "
            f"by {row['created_by']} {row['created_at']}{released}  — {row['reason']}"
        )


def register(group: click.Group) -> None:
    group.add_command(hold_group)
