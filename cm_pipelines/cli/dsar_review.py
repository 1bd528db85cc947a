"""``cm dsar review ID [--approve|--reject] --by WHO``: the privacy officer's decision on an
access package that waits because the name recogniser was unsure of names in its free text.

Without a flag it prints the redaction report (counts, and per record the offsets of the
``[name]`` masks standing for unsure findings; no text). ``--approve`` records the decision and
runs the request to completion, showing the held key once (or sealing it to
``CM_DSAR_KEY_RECIPIENT``) as ``cm dsar run`` does; ``--reject`` deletes the package and its
held key and puts the request back to ``verified`` (see ``cm_pipelines.dsar.request_review``).
"""

from __future__ import annotations

from typing import Any

import click

from cm_pipelines.cli.command_context import acting_as, open_object_store, open_warehouse
from cm_pipelines.dsar.request_records import DsarError, load_request


def print_redaction_report(report: dict[str, Any] | None) -> None:
    if not report:
        click.echo("redaction:    no names report (no package built yet)")
        return
    click.echo(
        f"redaction:    {report.get('texts', 0)} texts, {report.get('names_certain', 0)} names "
        f"masked for certain, {report.get('names_unsure', 0)} unsure in "
        f"{report.get('texts_with_unsure', 0)} texts"
    )
    for where, offsets in sorted((report.get("unsure_at") or {}).items()):
        click.echo(f"  unsure {where}: [name] at {', '.join(str(at) for at in offsets)}")


@click.command("review")
@click.argument("request_id")
@click.option("--approve", is_flag=True, help="Release the key and complete the request.")
@click.option(
    "--reject", is_flag=True, help="Discard the package; the request goes back to verified."
)
@click.option("--by", "reviewed_by", default=None, help="Who decides (privacy officer).")
@click.option("--reason", default=None, help="A note (counted in the audit, never copied).")
def review_command(
    request_id: str, approve: bool, reject: bool, reviewed_by: str | None, reason: str | None
) -> None:
    """Show the redaction report of a package awaiting review, or approve or reject it."""
    from cm_pipelines.dsar import key_handoff, request_review
    from cm_pipelines.resources.object_purge import purge_objects

    if approve and reject:
        raise click.ClickException("--approve or --reject, not both")
    warehouse = open_warehouse()
    if not (approve or reject):
        try:
            with warehouse.connect() as connection:
                record = load_request(connection, request_id)
                report = request_review.redaction_report(connection, request_id)
        except DsarError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{request_id}: {record.state}")
        print_redaction_report(report)
        return
    identity = acting_as(reviewed_by, "dsar.review")
    try:
        with warehouse.begin() as connection:
            if approve:
                request_review.approve(
                    connection, request_id, reviewed_by=identity.actor, note=reason
                )
            else:
                _, paths = request_review.reject(
                    connection, request_id, reviewed_by=identity.actor, note=reason
                )
    except DsarError as exc:
        raise click.ClickException(str(exc)) from None
    if reject:
        object_store = open_object_store()
        purge_objects(object_store, paths)
        key_handoff.discard_held_key(request_id, object_store)
        click.echo(
            f"{request_id}: verified (package rejected and deleted; run it again with "
            f"cm dsar run {request_id})"
        )
        return
    from cm_pipelines.cli.dsar_run import print_run_outcome, run_request

    print_run_outcome(request_id, run_request(request_id, actor=identity.actor))
