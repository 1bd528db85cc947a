"""``cm dsar``: submit, verify, extend, run and follow data-subject requests.

``run`` launches ``dsar_fulfillment_job`` through the project's Dagster instance (so the run is
in the UI) and waits. For access and portability it prints the package's decryption key once,
on this terminal: the key is in no log, no run record and not beside the package. Runs started
elsewhere (launchpad, sensor) leave the key for ``cm dsar key ID`` to collect once.

Request changes (the statutory calendars) and key handling (cryptography) are imported inside
the commands that use them (see ``cm_pipelines.cli``: start-up cost).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from cm_pipelines.cli.command_context import (
    acting_as,
    actor_option,
    configured_tenants,
    open_object_store,
    open_warehouse,
    operator_identity,
)
from cm_pipelines.cli.dsar_queue import QUEUE_COMMANDS
from cm_pipelines.cli.dsar_run import print_run_outcome, run_request
from cm_pipelines.dsar.request_records import DsarError, load_request
from cm_pipelines.platform import settings
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables.dsar import dsar_requests

REQUEST_TYPES = (
    "access",
    "portability",
    "erasure",
    "rectification",
    "restriction",
    "objection",
    "withdraw_consent",
)


def submit_request(
    *,
    tenant: str | None,
    request_type: str | None,
    identifiers: list[tuple[str, str]],
    jurisdiction: str | None = None,
    received_at: str | None = None,
    new_email: str | None = None,
    new_phone: str | None = None,
    new_caller_name: str | None = None,
    submitted_by: str | None = None,
) -> dict[str, Any]:
    """Validate and store a request; returns its id, clock and state (no identifiers)."""
    from cm_pipelines.domain.dsar.requests import RequestRefused, validate_request
    from cm_pipelines.dsar import request_changes

    tenants = configured_tenants()
    try:
        validated = validate_request(
            tenant_id=tenant,
            request_type=request_type,
            identifiers=identifiers,
            tenants=tenants,
            jurisdiction=jurisdiction,
            received_at=received_at,
            new_email=new_email,
            new_phone=new_phone,
            new_caller_name=new_caller_name,
        )
    except RequestRefused as exc:
        raise click.ClickException("request refused:\n  " + "\n  ".join(exc.problems)) from None
    warehouse = open_warehouse()
    with warehouse.begin() as connection:
        request_id = request_changes.submit_request(
            connection,
            validated,
            tenant=tenants[validated.tenant_id],
            hash_key=settings.identifier_hash_key(),
            submitted_by=submitted_by or operator_identity(),
        )
        record = load_request(connection, request_id)
    return {
        "request_id": request_id,
        "tenant_id": record.tenant_id,
        "type": record.request_type,
        "jurisdiction": record.jurisdiction,
        "state": record.state,
        "received_on": record.received_on.isoformat(),
        "due_date": record.due_date.isoformat(),
        "ack_due_date": record.ack_due_date.isoformat() if record.ack_due_date else None,
    }


def _print_status(status: dict[str, Any]) -> None:
    click.echo(
        f"request:      {status['request_id']}  ({status['type']}, {status['jurisdiction']})"
    )
    click.echo(f"tenant:       {status['tenant_id']}")
    click.echo(f"state:        {status['state']}")
    click.echo(f"received on:  {status['received_on']}")
    due = status["due_date"]
    if status["extended_due_date"]:
        due = f"{status['extended_due_date']} (extended from {status['due_date']})"
    click.echo(f"due:          {due}")
    if status["ack_due_date"]:
        click.echo(f"acknowledge:  {status['ack_due_date']}")
    if status["days_left"] is not None:
        overdue = "  OVERDUE" if status["overdue"] else ""
        click.echo(f"days left:    {status['days_left']}{overdue}")
    for phase, stores in sorted(status["store_results"].items()):
        click.echo(f"{phase}:")
        for name, counts in sorted(stores.items()):
            click.echo(
                f"  {name:<20} found {counts['found']:>6}  acted {counts['acted']:>6}  "
                f"exempted {counts['exempted']:>6}"
            )
    if status["package_path"]:
        click.echo(
            f"package:      {status['package_path']} (expires {status['package_expires_at']})"
        )
    if status["certificate_path"]:
        click.echo(
            f"certificate:  {status['certificate_path']} (sha256 {status['certificate_sha256']})"
        )
    if status.get("redaction"):
        from cm_pipelines.cli.dsar_review import print_redaction_report

        print_redaction_report(status["redaction"])


@click.group("dsar")
def dsar_group() -> None:
    """Data-subject requests: access, portability, erasure, rectification, restriction,
    objection and consent withdrawal, within one tenant."""


@dsar_group.command("submit")
@click.option("--tenant", default=None, help="Tenant the request is handled in (required).")
@click.option("--type", "request_type", type=click.Choice(REQUEST_TYPES), default=None)
@click.option("--phone", "phones", multiple=True, help="Subject's phone number (repeatable).")
@click.option("--email", "emails", multiple=True, help="Subject's email (repeatable).")
@click.option("--crm-id", "crm_ids", multiple=True, help="CRM record id, SYSTEM:ID or ID.")
@click.option("--jurisdiction", type=click.Choice(("gdpr", "ccpa", "au")), default=None)
@click.option("--received-at", default=None, help="When the request arrived (ISO 8601).")
@click.option("--new-email", default=None, help="Rectification: the corrected email.")
@click.option("--new-phone", default=None, help="Rectification: the corrected phone number.")
@click.option("--new-name", "new_caller_name", default=None, help="Rectification: corrected name.")
@click.option("--json", "as_json", is_flag=True, help="Print the request as JSON.")
@actor_option("submit requests (privacy officer, support)")
def submit_command(
    tenant, request_type, phones, emails, crm_ids, jurisdiction, received_at, new_email,
    new_phone, new_caller_name, as_json, actor,
) -> None:  # fmt: skip
    """Record a request (pending until verified); prints its id."""
    identity = acting_as(actor, "dsar.submit")
    identifiers = (
        [("phone", value) for value in phones]
        + [("email", value) for value in emails]
        + [("crm_id", value) for value in crm_ids]
    )
    result = submit_request(
        tenant=tenant,
        request_type=request_type,
        identifiers=identifiers,
        jurisdiction=jurisdiction,
        received_at=received_at,
        new_email=new_email,
        new_phone=new_phone,
        new_caller_name=new_caller_name,
        submitted_by=identity.actor,
    )
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        click.echo(result["request_id"])


@dsar_group.command("verify")
@click.argument("request_id")
@click.option(
    "--method", required=True, help="How identity/authority was checked, e.g. id_document."
)
@click.option(
    "--by",
    "verified_by",
    required=True,
    help="Who checked it: an identity of the roles file (privacy officer, support).",
)
def verify_command(request_id: str, method: str, verified_by: str) -> None:
    """Record that the requester's identity or authority was verified."""
    verified_by = acting_as(verified_by, "dsar.verify").name
    from cm_pipelines.domain.dsar.requests import RequestRefused, validate_verification
    from cm_pipelines.dsar.request_changes import verify_request

    try:
        method, verified_by = validate_verification(method, verified_by)
    except RequestRefused as exc:
        raise click.ClickException(
            "verification refused:\n  " + "\n  ".join(exc.problems)
        ) from None
    warehouse = open_warehouse()
    try:
        with warehouse.begin() as connection:
            verify_request(connection, request_id, method=method, verified_by=verified_by)
    except DsarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{request_id}: verified ({method}); run it with: cm dsar run {request_id}")


@dsar_group.command("extend")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why more time is needed (recorded).")
@actor_option("extend deadlines (privacy officer)")
def extend_command(request_id: str, reason: str, actor: str | None) -> None:
    """Extend the statutory deadline once, where the jurisdiction allows it."""
    identity = acting_as(actor, "dsar.extend")
    from cm_pipelines.dsar.request_changes import extend_request

    warehouse = open_warehouse()
    try:
        with warehouse.begin() as connection:
            record = extend_request(
                connection, request_id, reason=reason, extended_by=identity.actor
            )
    except DsarError as exc:
        raise click.ClickException(str(exc)) from None
    assert record.extended_due_date is not None
    click.echo(
        f"{request_id}: due {record.extended_due_date.isoformat()} (was {record.due_date.isoformat()})"
    )


@dsar_group.command("run")
@click.argument("request_id")
@actor_option("run requests (privacy officer)")
def run_command(request_id: str, actor: str | None) -> None:
    """Fulfil a verified request now (the run shows in the UI) and wait for it. An erasure
    above CM_ERASURE_APPROVAL_THRESHOLD records stops for a second person's `cm approve`."""
    identity = acting_as(actor, "dsar.run")
    print_run_outcome(request_id, run_request(request_id, actor=identity.actor))


@dsar_group.command("key")
@click.argument("request_id")
@click.option(
    "--private-key",
    "private_key_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The private key file `cm dsar keypair` wrote; opens a key sealed by a run on another "
    "machine (CM_DSAR_KEY_RECIPIENT).",
)
@actor_option("collect package keys (privacy officer)")
def key_command(request_id: str, private_key_file: str | None, actor: str | None) -> None:
    """Collect, once, the key of a package built by a run launched outside ``cm dsar run``.

    The collection is audited before the key is removed and shown: a key never leaves without
    a trace, and a failed audit write loses no key."""
    identity = acting_as(actor, "dsar.key")
    from cm_pipelines.domain.dsar.sealed_keys import SealedKeyError
    from cm_pipelines.dsar import key_handoff

    try:
        key = key_handoff.read_dropped_key(request_id)
    except ValueError:
        raise click.ClickException(
            "a request id looks like dsar- followed by 20 hex digits"
        ) from None
    how = key_handoff.DROP_FILE
    object_store = open_object_store()
    if key is None and key_handoff.has_sealed_key(request_id, object_store):
        if private_key_file is None:
            raise click.ClickException(
                f"the key of {request_id} is sealed to the privacy team's public key: "
                "pass --private-key FILE (the file `cm dsar keypair` wrote)"
            )
        try:
            key = key_handoff.open_stored_key(
                request_id, object_store, Path(private_key_file).read_bytes()
            )
        except SealedKeyError as exc:
            raise click.ClickException(str(exc)) from None
        how = key_handoff.SEALED
    if key is None:
        raise click.ClickException(
            f"no uncollected key for {request_id} on this machine or in the object store "
            "(a key is shown once)"
        )
    _audit_key_collected(request_id, how, identity.actor)
    if how == key_handoff.SEALED:
        key_handoff.discard_sealed_key(request_id, object_store)
    else:
        key_handoff.discard_dropped_key(request_id)
    click.echo(key.hex())


def _audit_key_collected(request_id: str, how: str, actor: str) -> None:

    with open_warehouse().begin() as connection:
        tenant_id = connection.execute(
            sa.select(dsar_requests.c.tenant_id).where(dsar_requests.c.request_id == request_id)
        ).scalar_one_or_none()
        append_audit(
            connection,
            actor=actor,
            action="dsar.export.key_collected",
            tenant_id=tenant_id,
            object_refs={"request_id": request_id},
            details={"delivery": how},
        )


@dsar_group.command("keypair")
@click.option(
    "--out",
    "private_key_file",
    type=click.Path(dir_okay=False),
    required=True,
    help="Where to write the private key (mode 0600; keep it off the platform's machines).",
)
def keypair_command(private_key_file: str) -> None:
    """Create the key pair export keys are sealed to when runs happen on other machines."""

    from cm_pipelines.domain.dsar.sealed_keys import generate_key_pair
    from cm_pipelines.dsar.key_handoff import RECIPIENT_ENV

    private, public = generate_key_pair()
    try:
        descriptor = os.open(private_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(
            f"{private_key_file} exists: a new key pair never overwrites an old private key"
        ) from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private)
    click.echo(f"{RECIPIENT_ENV}={public.hex()}")
    click.echo(
        "set it wherever DSAR runs execute (workers, pods); open sealed keys with "
        f"cm dsar key ID --private-key {private_key_file}",
        err=True,
    )


@dsar_group.command("status")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(request_id: str, as_json: bool) -> None:
    """State, due date, days left, per-store results and where the package or certificate is."""
    from cm_pipelines.dsar.request_status import request_status

    warehouse = open_warehouse()
    tenants = configured_tenants()
    try:
        with warehouse.connect() as connection:
            record = load_request(connection, request_id)
            tenant = tenants.get(record.tenant_id)
            if tenant is None:
                raise click.ClickException(f"tenant {record.tenant_id} is no longer configured")
            status = request_status(connection, request_id, tenant=tenant, now=datetime.now(UTC))
    except DsarError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(status, sort_keys=True, default=str))
    else:
        _print_status(status)


def register(group: click.Group) -> None:
    from cm_pipelines.cli.dsar_review import review_command

    for command in (*QUEUE_COMMANDS, review_command):
        dsar_group.add_command(command)
    group.add_command(dsar_group)
