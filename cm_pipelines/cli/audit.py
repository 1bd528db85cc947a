"""``cm audit verify`` and ``cm audit tail``: check the hash chain, read the newest entries."""

from __future__ import annotations

import json
import sys

import click
import sqlalchemy as sa

from cm_pipelines.cli.command_context import open_object_store, open_warehouse
from cm_pipelines.domain.tenants import ConfigError, validate_tenant_id
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.trust.chain import AnchorUnreadable, load_anchors, verify_warehouse_chain


def verify_audit_log(*, use_anchors: bool = True) -> dict[str, object]:
    """Verify the warehouse's chain against the anchors in the object store; JSON-ready result."""
    warehouse, object_store = open_warehouse(), open_object_store()
    try:
        anchors = load_anchors(object_store) if use_anchors else []
    except AnchorUnreadable as exc:
        raise click.ClickException(
            f"{exc}; restore it from the store's versions or backups"
        ) from None
    with warehouse.connect() as connection:
        verdict = verify_warehouse_chain(connection, anchors)
    return {**verdict.as_dict(), "anchors_known": len(anchors), "message": verdict.describe()}


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as one JSON object.")
@click.option(
    "--no-anchors",
    is_flag=True,
    help="Check the chain only, ignoring the heads recorded in the object store.",
)
def verify_command(as_json: bool, no_anchors: bool) -> None:
    """Walk the hash chain and name the first entry altered, removed or reordered.

    Exits 1 when the chain is broken, so schedulers and shells can act on it.
    """
    result = verify_audit_log(use_anchors=not no_anchors)
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        click.echo(str(result["message"]))
    if not result["ok"]:
        sys.exit(1)


@audit_group.command("tail")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--tenant", "tenant_id", default=None, help="Only entries of this tenant.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail_command(limit: int, tenant_id: str | None, as_json: bool) -> None:
    """The newest entries: seq, time, actor, action, tenant, run and references (ids only)."""
    if tenant_id is not None:
        try:
            validate_tenant_id(tenant_id, "--tenant")
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--tenant") from None
    warehouse = open_warehouse()
    query = sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(audit_log.c.tenant_id == tenant_id)
    with warehouse.connect() as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    for row in reversed(rows):
        row["occurred_at"] = row["occurred_at"].isoformat()
        if as_json:
            click.echo(json.dumps(row, sort_keys=True, default=str))
        else:
            click.echo(
                f"{row['seq']:>8}  {row['occurred_at']}  {row['tenant_id'] or '-':<12} "
                f"{row['action']:<28} {row['actor']}  refs={json.dumps(row['object_refs'])}"
            )


def register(group: click.Group) -> None:
    group.add_command(audit_group)
