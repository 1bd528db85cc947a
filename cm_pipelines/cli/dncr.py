"""``cm dncr check`` (pre-call check of a few numbers) and ``cm dncr wash`` (wash a list file).

Both run the same domain code as ``dncr_wash_job`` against the same evidence: the active
registry versions, the tenant's suppression list and consents. Numbers are shown masked; the
wash output file is the operator's own list and keeps them. The washing services (Parquet
evidence) are imported inside the commands (see ``cm_pipelines.cli``: start-up cost).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd

from cm_pipelines.cli.command_context import (
    acting_as,
    open_object_store,
    open_warehouse,
    operator_identity,
    platform_config,
    tenant_named,
)
from cm_pipelines.dncr.audit_actor import ACTOR
from cm_pipelines.domain.csv_cells import safe_csv_bytes
from cm_pipelines.domain.dncr.content_hashing import sha256_hex
from cm_pipelines.domain.dncr.evidence import evidence_document
from cm_pipelines.domain.dncr.fast_numbers import prepare_numbers_fast
from cm_pipelines.domain.dncr.fast_washing import wash_fast
from cm_pipelines.domain.phone_numbers import mask_number
from cm_pipelines.domain.tenants import ConfigError, Tenant
from cm_pipelines.platform import settings
from cm_pipelines.platform.audit_log import append_audit


def _instant(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            "must be an ISO date-time such as 2026-11-28T09:00:00+00:00", param_hint="--at"
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def run_wash(
    tenant_id: str, raw_numbers: list[str], at: datetime
) -> tuple[Tenant, pd.DataFrame, set[str]]:
    """Wash numbers for a tenant against the warehouse's current evidence.

    Returns the tenant, the decisions (one row per input, in order) and the keyed hashes under
    an active DSAR restriction (callers must not export those).
    """
    from cm_pipelines.dncr.refresh.registry_versions import RegistryIntegrityError
    from cm_pipelines.dncr.wash.evidence import (
        load_evidence,
        restricted_hashes,
        suppressed_hashes,
        tenant_consents,
    )

    tenant = tenant_named(tenant_id)
    try:
        registries = {registry.id: registry for registry in platform_config().registries()}
    except ConfigError as exc:
        raise click.ClickException(f"configuration refused: {exc}") from exc
    warehouse, object_store = open_warehouse(), open_object_store()
    numbers = prepare_numbers_fast(raw_numbers, tenant.country, settings.identifier_hash_key())
    try:
        with warehouse.connect() as connection:
            evidence = load_evidence(
                connection, object_store, [registries[r] for r in tenant.registries]
            )
            suppressed = suppressed_hashes(connection, tenant.id, at)
            restricted = restricted_hashes(connection, tenant.id)
            consents = tenant_consents(connection, tenant.id, set(numbers["e164_hash"]))
    except RegistryIntegrityError as exc:
        raise click.ClickException(f"{exc}: re-run dncr_registry_refresh_job") from exc
    results = wash_fast(
        numbers,
        evidence=evidence,
        suppressed_hashes=suppressed,
        consents=consents,
        washed_at=at,
        tenant_country=tenant.country,
    )
    results.insert(0, "raw", numbers["raw"].to_numpy(dtype=object))
    return tenant, results, restricted


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and pd.isna(value):
        return None
    return value


@click.group("dncr")
def dncr_group() -> None:
    """Do-not-call registries: pre-call checks and list washes."""


@dncr_group.command("check")
@click.option(
    "--tenant",
    "tenant_id",
    required=True,
    help="Tenant whose registries, suppression list and consents apply.",
)
@click.option("--at", "at", default=None, help="ISO instant to decide at (default: now).")
@click.option("--actor", default=None, help="Who checks (recorded as cli:NAME; default: login).")
@click.argument("numbers", nargs=-1, required=True)
def check_command(
    tenant_id: str, at: str | None, actor: str | None, numbers: tuple[str, ...]
) -> None:
    """One JSON line per NUMBER: decision, reason, evidence, valid_until (number masked).
    Every check is recorded (``dncr_check_records``: decision, reason, evidence, keyed hash)."""
    from cm_pipelines.dncr.check_records import store_check_records

    moment = _instant(at)
    tenant, results, restricted = run_wash(tenant_id, list(numbers), moment)
    with open_warehouse().begin() as connection:
        store_check_records(
            connection,
            tenant.id,
            results,
            checked_at=datetime.now(UTC),
            channel="cli",
            checked_by=operator_identity(actor),
        )
    for index, row in enumerate(results.to_dict(orient="records")):
        e164 = row["e164"]
        document = {
            "input": index + 1,
            "number": mask_number(e164) if e164 else None,
            "decision": row["decision"],
            "reason": row["reason"],
            "evidence": {key: _json_value(value) for key, value in evidence_document(row).items()},
            "valid_until": _json_value(row["valid_until"]),
            "restricted": row["e164_hash"] in restricted,
            "calling_window": row["calling_window"],
        }
        click.echo(json.dumps(document, sort_keys=True))


@dncr_group.command("wash")
@click.option(
    "--tenant",
    "tenant_id",
    required=True,
    help="Tenant whose registries, suppression list and consents apply.",
)
@click.option(
    "--list",
    "list_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with a 'phone' column (and optional 'contact_ref').",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write the decisions to.",
)
@click.option("--at", "at", default=None, help="ISO instant to decide at (default: now).")
def wash_command(tenant_id: str, list_file: Path, out_file: Path, at: str | None) -> None:
    """Wash a list file; writes every decision to --out (DSAR-restricted numbers left out)."""
    from cm_pipelines.dncr.wash.campaign_lists import CampaignFileError, read_campaign_csv

    data = list_file.read_bytes()
    try:
        frame = read_campaign_csv(data, list_file.name)
    except CampaignFileError as exc:
        raise click.ClickException(str(exc)) from exc
    tenant, results, restricted = run_wash(tenant_id, frame["phone"].tolist(), _instant(at))
    results["contact_ref"] = frame["contact_ref"].to_numpy(dtype=object)
    withheld = results["e164_hash"].isin(restricted).to_numpy()
    output = results.loc[~withheld]
    body = safe_csv_bytes(_decision_table(output))  # formula-like cells neutralised
    out_file.write_bytes(body)
    summary = {
        "numbers": len(results),
        "written": len(output),
        "restricted_withheld": int(withheld.sum()),
        "reasons": dict(sorted(Counter(output["reason"]).items())),
    }
    _audit_list_wash(tenant.id, input_data=data, output_data=body, summary=summary)
    click.echo(json.dumps({"tenant": tenant.id, **summary}, sort_keys=True), err=True)


def _decision_table(output: pd.DataFrame) -> pd.DataFrame:
    """The wash output file: the operator's own numbers with each decision and its evidence."""
    return pd.DataFrame(
        {
            "phone": output["raw"],
            "e164": output["e164"],
            "contact_ref": output["contact_ref"],
            "decision": output["decision"],
            "reason": output["reason"],
            "registry_id": output["registry_id"],
            "registry_version": output["registry_version"],
            "evidence_date": [_json_value(v) for v in output["evidence_date"]],
            "valid_until": [_json_value(v) for v in output["valid_until"]],
            "rule": output["rule"],
            "calling_window": [
                json.dumps(v, sort_keys=True) if v else "" for v in output["calling_window"]
            ],
        }
    )


def _audit_list_wash(
    tenant_id: str, *, input_data: bytes, output_data: bytes, summary: dict[str, Any]
) -> None:
    """The wash leaves an audit entry: hashes of both files and counts, never a number."""
    with open_warehouse().begin() as connection:
        append_audit(
            connection,
            actor=f"{ACTOR}:cli",
            action="dncr.list_washed",
            tenant_id=tenant_id,
            object_refs={
                "output_sha256": sha256_hex(output_data),
                "input_sha256": sha256_hex(input_data),
            },
            details=summary,
        )


@dncr_group.command("suppress")
@click.option("--tenant", "tenant_id", required=True, help="Tenant whose own list is added to.")
@click.option(
    "--source",
    type=click.Choice(["operator", "call_disposition", "ivr_opt_out", "sms_stop", "client_list"]),
    default="operator",
    show_default=True,
    help="Where the do-not-call request came from.",
)
@click.option("--by", "by", default=None, help="Who records it: an identity of the roles file.")
@click.option("--received-at", default=None, help="ISO instant the request was received (now).")
@click.argument("numbers", nargs=-1, required=True)
def suppress_command(
    tenant_id: str, source: str, by: str | None, received_at: str | None, numbers: tuple[str, ...]
) -> None:
    """Add NUMBERs to the tenant's internal do-not-call list (in effect at once, honour-by
    deadline 10 business days, kept 5 years). Invalid numbers refuse the whole command."""
    from cm_pipelines.dncr.internal_list import Request, hash_numbers, record_requests

    identity = acting_as(by, "dncr.suppress")
    tenant = tenant_named(tenant_id)
    received = _instant(received_at)
    hashes, invalid = hash_numbers(list(numbers), tenant, settings.identifier_hash_key())
    if invalid:
        raise click.ClickException(
            f"not valid {tenant.country} numbers: positions {invalid}; nothing recorded"
        )
    by_name = operator_identity(identity.name)
    requests = [Request(h, source, received, by_name, "cli") for h in dict.fromkeys(hashes)]
    now = datetime.now(UTC)
    with open_warehouse().begin() as connection:
        counts = record_requests(connection, tenant, requests, now)
        summary = {"added": counts.added, "reinstated": counts.reinstated, "kept": counts.kept}
        append_audit(
            connection,
            actor=by_name,
            action="dncr.suppressed",
            tenant_id=tenant.id,
            object_refs={"source": source},
            details=summary,
        )
    click.echo(json.dumps({"tenant": tenant.id, "source": source, **summary}, sort_keys=True))


def register(group: click.Group) -> None:
    group.add_command(dncr_group)
