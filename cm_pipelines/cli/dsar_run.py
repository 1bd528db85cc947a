"""Running one request's fulfilment job from the terminal and telling the outcome: shared by
``cm dsar run`` and ``cm dsar review --approve`` (which completes an approved package)."""

from __future__ import annotations

from typing import Any

import click

from cm_pipelines.cli.command_context import open_warehouse, operator_identity
from cm_pipelines.dsar.request_records import DsarError, load_request
from cm_pipelines.dsar.run_config import JOB_NAME, REQUEST_TAG, fulfilment_run_config
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.platform.instance import console_log_level, run_job
from cm_pipelines.platform.run_tags import exclusive_tenant_tags


def run_request(
    request_id: str, *, instance: Any = None, actor: str | None = None
) -> dict[str, Any]:
    """Launch the job for one request in this process and wait; returns what it produced.
    ``actor`` (``cli:NAME``) is tagged on the run: an erasure above the threshold asks a
    second person to approve it in that name.

    A request that cannot run as it stands (unknown, unverified, refused, completed) is
    refused here in one line, audited, without launching a run. The run's own events go to
    the instance (the UI), not the terminal: a refusal inside the run (another run holds the
    request, an erasure waits for approval) comes back as its one-line reason."""
    from cm_pipelines.domain.dsar.operator import run_refusal
    from cm_pipelines.dsar import key_handoff

    warehouse = open_warehouse()
    actor = actor or operator_identity()
    with warehouse.begin() as connection:
        try:
            record = load_request(connection, request_id)
        except DsarError as exc:
            raise click.ClickException(str(exc)) from None
        refusal = run_refusal(request_id, record.state)
        if refusal is not None:
            append_audit(
                connection,
                actor=actor,
                action="dsar.run.refused",
                tenant_id=record.tenant_id,
                object_refs={"request_id": request_id},
                details={"state": record.state},
            )
    if refusal is not None:
        raise click.ClickException(refusal)
    tags = {REQUEST_TAG: request_id, "cm/trigger": "cli", "cm/actor": actor}
    if record.request_type == "erasure":
        tags.update(exclusive_tenant_tags(record.tenant_id))
    with key_handoff.expect_key(request_id) as receiver, console_log_level("CRITICAL"):
        result = run_job(
            JOB_NAME,
            instance=instance,
            run_config=fulfilment_run_config(request_id),
            tags=tags,
        )
    outcome: dict[str, Any] = {"run_id": result.run_id, "success": result.success}
    if not result.success:
        outcome["error"] = _failure_reason(result)
    with warehouse.connect() as connection:
        record = load_request(connection, request_id)
    outcome.update(state=record.state, result_path=record.result_path, type=record.request_type)
    outcome["key"] = receiver.key
    return outcome


def _failure_reason(result: Any) -> str:
    """The first failed step's reason in one line: a refusal's own words (``dg.Failure``),
    else the error's first line (its traceback is in the UI)."""
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            return " ".join(data.user_failure_data.description.split())
        if data.error is not None:
            lines = data.error.message.strip().splitlines()
            return (
                lines[0] if lines else data.error.cls_name or "error"
            ) + " (traceback in the UI)"
    return "the run failed; see it in the UI"


def print_run_outcome(request_id: str, outcome: dict[str, Any]) -> None:
    """What a run did, in a few lines; its key (access, portability) shown once, here only."""
    if not outcome["success"]:
        raise click.ClickException(
            f"{outcome.get('error')} (request {request_id} is {outcome['state']}; "
            f"run {outcome['run_id']})"
        )
    click.echo(f"{request_id}: {outcome['state']} (run {outcome['run_id']})")
    if outcome["type"] == "erasure" and outcome["result_path"]:
        click.echo(f"certificate: {outcome['result_path']}")
    elif outcome["result_path"]:
        click.echo(f"package:     {outcome['result_path']}")
    if outcome["key"] is not None:
        click.echo(
            f"key:         {outcome['key'].hex()}\n"
            "             the passphrase of the AES-256 encrypted ZIP (7-Zip and other archive "
            "tools open it); shown once, stored nowhere - pass it to the requester through a "
            "different channel than the package, with: open the .zip with 7-Zip, WinZip, Keka "
            "or `7z x` and this passphrase, then index.html."
        )
    elif outcome["state"] == "awaiting_review":
        click.echo(
            "key:         held until the privacy officer reviews names the recogniser was "
            f"unsure of (cm dsar review {request_id})"
        )
    elif outcome["type"] in ("access", "portability"):
        click.echo("key:         not produced by this run (the package was built earlier)")
