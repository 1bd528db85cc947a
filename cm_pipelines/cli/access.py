"""``cm access grant|revoke|list`` and ``cm support show``: remote-assistance access as a record.

A client approves that support may look at its call data for a ticket; a privacy officer
records the approval as a grant (tenant, support identity, scopes, a window of at most
``CM_SUPPORT_ACCESS_MAX_HOURS``). Support then reads one artefact at a time with ``cm support
show``, refused outside a grant, masked inside one, and audited either way. Output never shows
the client-side approver's name except in ``cm access list``, the record's own view.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cm_pipelines.access.support_grants import grant_access, list_grants, revoke_access
from cm_pipelines.access.support_reads import ReadRefused, support_read
from cm_pipelines.cli.command_context import (
    named_identity,
    open_object_store,
    open_warehouse,
    tenant_named,
)
from cm_pipelines.domain.access.support_grants import GrantRefused, local_time
from cm_pipelines.domain.operations.roles import AccessRefused

REFUSALS = (GrantRefused, AccessRefused)


def _window(grant: dict[str, Any], zone: str | None) -> str:
    shown = f"{grant['starts_at']:%Y-%m-%d %H:%M} .. {grant['expires_at']:%Y-%m-%d %H:%M} UTC"
    return f"{shown} ({local_time(grant['expires_at'], zone)})" if zone else shown


@click.group("access")
def access_group() -> None:
    """Remote-assistance grants: which support identity may read which tenant's data, until when."""


@access_group.command("grant")
@click.option("--tenant", "tenant_id", required=True, help="Tenant id whose client approved.")
@click.option("--to", "granted_to", required=True, help="Support identity of the roles file.")
@click.option("--scope", required=True, help="call_records, crm_links, recordings, transcripts.")
@click.option("--approved-by", required=True, help="Client-side approver (name, role) as given.")
@click.option("--ticket", required=True, help="Ticket or purpose reference, e.g. ZD-48213.")
@click.option("--hours", type=float, required=True, help="How long (at most 72 unless configured).")
@click.option("--by", "by", required=True, help="Who records it: a privacy officer.")
def grant_command(
    tenant_id: str,
    granted_to: str,
    scope: str,
    approved_by: str,
    ticket: str,
    hours: float,
    by: str,
) -> None:
    """Record a client's approval of support access (audited; the same active grant is not
    made twice)."""
    tenant = tenant_named(tenant_id)
    grantor, grantee = named_identity(by), named_identity(granted_to)
    try:
        with open_warehouse().begin() as connection:
            grant, made = grant_access(
                connection,
                tenant_id=tenant.id,
                grantee=grantee,
                grantor=grantor,
                scopes=scope,
                approved_by=approved_by,
                ticket=ticket,
                hours=hours,
            )
    except REFUSALS as exc:
        raise click.ClickException(f"refused: {exc}") from None
    said = "granted" if made else "already granted (active, unchanged)"
    click.echo(
        f"{grant['grant_id']}: {said} to {grant['granted_to']} on {tenant.id} for "
        f"{','.join(grant['scopes'])}, {_window(grant, tenant.timezone)}"
    )


@access_group.command("revoke")
@click.argument("grant_id")
@click.option("--by", "by", required=True, help="A privacy officer, or the support identity.")
@click.option("--reason", required=True, help="Why (kept with the grant, not in the audit).")
def revoke_command(grant_id: str, by: str, reason: str) -> None:
    """End a grant now (audited); revoking it again says when it was revoked."""
    identity = named_identity(by)
    try:
        with open_warehouse().begin() as connection:
            grant = revoke_access(connection, grant_id, identity, reason=reason)
    except REFUSALS as exc:
        raise click.ClickException(f"refused: {exc}") from None
    click.echo(f"{grant['grant_id']}: revoked by {grant['revoked_by']}")


def _listed(grant: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (str(value) if key.endswith("_at") and value is not None else value)
        for key, value in grant.items()
        if key != "approved_by_hash"
    }


@access_group.command("list")
@click.option("--tenant", "tenant_id", default=None, help="Only this tenant's grants.")
@click.option("--active", "active_only", is_flag=True, help="Only grants open now.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(tenant_id: str | None, active_only: bool, as_json: bool) -> None:
    """Grants with their state (active, pending, expired, revoked), oldest first."""
    if tenant_id is not None:
        tenant_named(tenant_id)
    with open_warehouse().connect() as connection:
        grants = list_grants(connection, tenant_id=tenant_id, active_only=active_only)
    if as_json:
        click.echo(json.dumps([_listed(g) for g in grants], indent=2, sort_keys=True))
        return
    if not grants:
        click.echo("no active support access grants" if active_only else "no grants")
    for grant in grants:
        click.echo(
            f"{grant['grant_id']}  {grant['state']:<8} {grant['tenant_id']}  "
            f"{grant['granted_to']}  {','.join(grant['scopes'])}  {grant['ticket_ref']}  "
            f"{_window(grant, None)}  approved by {grant['approved_by']}"
        )


@click.group("support")
def support_group() -> None:
    """Support's reads of a tenant's call data, under a grant, masked and audited."""


@support_group.command("show")
@click.option("--tenant", "tenant_id", required=True, help="Tenant id.")
@click.option("--call", "call_id", required=True, help="The call's uniqueid.")
@click.option(
    "--what",
    type=click.Choice(["call", "transcript", "crm", "recording"]),
    default="call",
    show_default=True,
    help="Which artefact of the call.",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Recording: WAV file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--as", "as_", required=True, help="The support identity reading.")
def show_command(
    tenant_id: str, call_id: str, what: str, out: Path | None, as_json: bool, as_: str
) -> None:
    """Show one artefact of a call with the other party's identifiers masked; a recording is
    written to --out (or, on S3, given as a 15-minute signed URL). Refused without an active
    grant covering the tenant and that kind of record; audited either way."""
    if out is not None and what != "recording":
        raise click.UsageError("--out is for --what recording")
    tenant = tenant_named(tenant_id)
    reader = named_identity(as_)
    store = open_object_store() if what == "recording" else None
    try:
        with open_warehouse().begin() as connection:
            answer = support_read(
                connection,
                reader,
                tenant_id=tenant.id,
                call_id=call_id,
                kind=what,
                store=store,
                out=out,
            )
    except (*REFUSALS, ReadRefused) as exc:
        raise click.ClickException(f"refused: {exc}") from None
    if "refused" in answer:
        why = (
            answer.get("detail")
            or {
                "not_found": f"no {what} for that call in {tenant.id}"
                if what != "call"
                else f"no such call in {tenant.id} (or it was erased or purged)",
                "restricted": "the call's processing is restricted",
            }[answer["refused"]]
        )
        raise click.ClickException(f"refused: {why} (the attempt is audited)")
    artefact = answer["artefact"]
    if as_json or what != "transcript":
        click.echo(json.dumps({"grant_id": answer["grant_id"], **artefact}, indent=2))
    else:
        click.echo(f"# {call_id} under {answer['grant_id']} ({artefact['segments']} segments)")
        click.echo(artefact["text"])


def register(group: click.Group) -> None:
    group.add_command(access_group)
    group.add_command(support_group)
