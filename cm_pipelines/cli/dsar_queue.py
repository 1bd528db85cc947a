"""``cm dsar list|refuse|acknowledge|lift``: the operator's queue and decisions.

``list`` shows requests with their clock (ids, dates, states; never an identifier). The
others change a request as a named identity of the roles file, audited. The rules are in
``cm_pipelines.domain.dsar.operator``; the writes in ``cm_pipelines.dsar.request_decisions``
(imported inside the commands: see ``cm_pipelines.cli``, start-up cost).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import click

from cm_pipelines.cli.command_context import (
    acting_as,
    actor_option,
    configured_tenants,
    open_warehouse,
    tenant_named,
)
from cm_pipelines.domain.dsar.operator import REFUSAL_BASIS, REFUSAL_CODES
from cm_pipelines.domain.dsar.requests import OPEN_STATES, STATES
from cm_pipelines.dsar.request_records import DsarError, load_request

_ACK_SHOWN = {
    "not_required": "-",
    "closed": "-",
    "acknowledged": "done",
    "acknowledged_late": "done (late)",
    "due": "due {ack}",
    "overdue": "OVERDUE {ack}",
}


def _queue_line(entry) -> str:
    due = entry.due.isoformat() + ("*" if entry.extended else "")
    left = "" if entry.days_left is None else str(entry.days_left)
    if entry.overdue:
        left += " OVERDUE"
    ack = _ACK_SHOWN[entry.acknowledgement].format(
        ack=entry.ack_due.isoformat() if entry.ack_due else ""
    )
    return (
        f"{entry.request_id}  {entry.tenant_id:<12} {entry.request_type:<16} "
        f"{entry.jurisdiction:<5} {entry.state:<11} {entry.received_on.isoformat()}  "
        f"{due:<11} {left:<12} {ack}"
    )


@click.command("list")
@click.option("--tenant", default=None, help="Only this tenant's requests.")
@click.option(
    "--state",
    "states",
    type=click.Choice(STATES),
    multiple=True,
    help="Only requests in this state (repeatable); default: the open ones "
    f"({', '.join(OPEN_STATES)}).",
)
@click.option("--overdue", is_flag=True, help="Only open requests past their due date.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per request.")
def list_command(tenant: str | None, states: tuple[str, ...], overdue: bool, as_json: bool) -> None:
    """The request queue: soonest due first, with days left (tenant-local) and the CCPA
    acknowledgement; ids and dates only."""
    from cm_pipelines.dsar.request_queue import request_queue

    if tenant is not None:
        tenant_named(tenant)
    tenants = configured_tenants()
    with open_warehouse().connect() as connection:
        entries = request_queue(
            connection,
            tenants,
            states=states or OPEN_STATES,
            tenant_id=tenant,
            overdue_only=overdue,
            now=datetime.now(UTC),
        )
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.as_dict(), sort_keys=True))
        return
    if not entries:
        click.echo("no requests" + (" overdue" if overdue else "") + " (cm dsar list --help)")
        return
    click.echo(
        f"{'request':<25}  {'tenant':<12} {'type':<16} {'juris':<5} {'state':<11} "
        f"{'received':<10}  {'due':<11} {'days left':<12} acknowledgement"
    )
    for entry in entries:
        click.echo(_queue_line(entry))
    if any(entry.extended for entry in entries):
        click.echo("* extended")


@click.command("refuse")
@click.argument("request_id")
@click.option(
    "--reason",
    "code",
    type=click.Choice(REFUSAL_CODES),
    required=True,
    help="Why: manifestly_unfounded or manifestly_excessive (GDPR Art. 12(5)), or "
    "identity_not_confirmed (a pending request whose requester could not be verified).",
)
@click.option(
    "--note",
    default=None,
    help="What supports the decision, for the case file (at most 500 characters; no personal "
    "data: it is kept with the request, not in the audit log).",
)
@actor_option("refuse requests (privacy officer)")
def refuse_command(request_id: str, code: str, note: str | None, actor: str | None) -> None:
    """Refuse a pending or verified request, with its reason code (audited)."""
    identity = acting_as(actor, "dsar.refuse")
    from cm_pipelines.dsar.request_decisions import refuse_request

    try:
        with open_warehouse().begin() as connection:
            refuse_request(connection, request_id, code=code, note=note, refused_by=identity.actor)
    except DsarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{request_id}: refused ({REFUSAL_BASIS[code]})")
    click.echo(
        "tell the requester without delay why, and that they may complain to a supervisory "
        "authority and seek a judicial remedy (GDPR Art. 12(4); CCPA Regs 7022-7024: explain "
        "the basis of a denial)"
    )


def _parse_day(value: str | None, timezone: str) -> date:
    from cm_pipelines.dsar.request_status import tenant_today

    today = tenant_today(timezone)
    if value is None:
        return today
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.ClickException(f"--on: not a date YYYY-MM-DD ({value[:20]!r})") from None
    if day > today:
        raise click.ClickException(
            f"--on {day.isoformat()} lies in the future; give the day it was sent"
        )
    return day


@click.command("acknowledge")
@click.argument("request_id")
@click.option(
    "--on",
    "on",
    default=None,
    help="Day the acknowledgement was sent, tenant-local (YYYY-MM-DD); default: today.",
)
@actor_option("acknowledge requests (privacy officer, support)")
def acknowledge_command(request_id: str, on: str | None, actor: str | None) -> None:
    """Record that the requester was told their request arrived (CCPA: within 10 business
    days of receipt; the dsar_acknowledged_in_time check fails while one is missed)."""
    identity = acting_as(actor, "dsar.acknowledge")
    from cm_pipelines.dsar.request_decisions import acknowledge_request

    tenants = configured_tenants()
    try:
        with open_warehouse().begin() as connection:
            record = load_request(connection, request_id)
            tenant = tenants.get(record.tenant_id)
            day = _parse_day(on, tenant.timezone if tenant else "UTC")
            record, status = acknowledge_request(
                connection, request_id, acknowledged_by=identity.actor, on=day
            )
    except DsarError as exc:
        raise click.ClickException(str(exc)) from None
    due = record.ack_due_date
    if due is None:
        click.echo(f"{request_id}: acknowledged on {day.isoformat()} (no statutory date applies)")
    else:
        late = " - LATE" if status == "acknowledged_late" else ""
        click.echo(f"{request_id}: acknowledged on {day.isoformat()} (due {due.isoformat()}){late}")


@click.command("lift")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why the restriction ends (kept with the request).")
@click.option(
    "--subject-informed",
    is_flag=True,
    help="Confirm the subject was told before the restriction is lifted (GDPR Art. 18(3)).",
)
@actor_option("lift restrictions (privacy officer)")
def lift_command(request_id: str, reason: str, subject_informed: bool, actor: str | None) -> None:
    """Lift the restriction a completed restriction request put in place: its records are
    processed again, unless another restriction in force covers them."""
    identity = acting_as(actor, "dsar.lift")
    from cm_pipelines.dsar.request_decisions import lift_restriction

    try:
        with open_warehouse().begin() as connection:
            outcome = lift_restriction(
                connection,
                request_id,
                reason=reason,
                subject_informed=subject_informed,
                lifted_by=identity.actor,
            )
    except DsarError as exc:
        raise click.ClickException(str(exc)) from None
    released = ", ".join(f"{store} {n}" for store, n in sorted(outcome.records_released.items()))
    click.echo(
        f"{request_id}: restriction lifted ({outcome.entries_lifted} identifier(s); records "
        f"released: {released or 'none'}; still restricted by other requests: "
        f"{outcome.still_restricted})"
    )
    if outcome.crm_tasks_withdrawn:
        click.echo(f"CRM restrict tasks withdrawn before sending: {outcome.crm_tasks_withdrawn}")
    if outcome.crm_tasks_already_sent:
        click.echo(
            f"CRM systems already told to restrict: {outcome.crm_tasks_already_sent} - tell them "
            "the restriction is lifted"
        )


QUEUE_COMMANDS = (list_command, refuse_command, acknowledge_command, lift_command)
