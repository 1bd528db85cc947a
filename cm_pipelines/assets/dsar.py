"""Data-subject requests in Dagster: the fulfilment job, the SLA asset and its check, export expiry.

``dsar_fulfillment_job`` runs one request through gate -> locate -> execute -> verify ->
complete. Its typed run config names a ``request_id`` (what ``cm dsar run`` and the intake sensor
send), or submits a new request from its fields (the launchpad door). The gate refuses an
unverified request before anything is read: the run fails with what to do, the request stays
pending, nothing is disclosed or changed. Every step is logged in ``dsar_steps`` and audited, so
a killed run re-launched for the same request resumes where it stopped.

Run metadata carries ids, counts, hashes and object paths only; the export key never appears in
it (see ``cm_pipelines.dsar.key_handoff``).
"""

# No ``from __future__ import annotations`` here: Dagster reads the op signatures' types at
# definition time and cannot resolve a string annotation of a run-config class.
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import BaseModel, Field

from cm_pipelines import settings
from cm_pipelines.audit import append_audit
from cm_pipelines.domain import dsar_clock
from cm_pipelines.domain.dsar_requests import (
    RequestRefused,
    validate_rectification,
    validate_request,
    validate_verification,
)
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar import key_handoff
from cm_pipelines.dsar import requests_store as store
from cm_pipelines.dsar.fulfilment import Fulfilment, FulfilmentError
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_purge import purge_objects
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables.dsar import dsar_exports

DSAR_GROUP = "dsar"
REQUEST_TAG = "cm/dsar_request_id"
JOB_NAME = "dsar_fulfillment_job"
GATE_OP = "dsar_gate"


class DsarRunConfig(dg.Config):
    """Fulfil one data-subject request.

    Give ``request_id`` to run a stored request. Or, from the launchpad, leave it empty and give
    the new request's tenant and type plus ``intake_file``: the object-store path (under
    ``intake/dsar/``) of a JSON document holding the subject's identifiers. Identifiers never go
    into run config itself, because everyone who can see runs can read it; the intake file is
    deleted once the request is stored.
    """

    request_id: str = Field(default="", description="Request to fulfil (dsar-...).")
    tenant: str = Field(default="", description="New request: tenant id.")
    request_type: str = Field(
        default="",
        description="New request: access, portability, erasure, rectification, restriction, "
        "objection or withdraw_consent.",
    )
    intake_file: str = Field(
        default="",
        description="Object-store path under intake/dsar/ of a JSON file with the subject's "
        'identifiers: {"phones": [...], "emails": [...], "crm_ids": [...]} and, for '
        "rectification, new_email / new_phone / new_caller_name.",
    )
    jurisdiction: str = Field(default="", description="New request: gdpr, ccpa or au.")
    received_at: str = Field(default="", description="New request: ISO time of receipt.")
    verification_method: str = Field(
        default="", description="Record a verification now (e.g. id_document)."
    )
    verified_by: str = Field(default="", description="Who verified identity or authority.")


INTAKE_PREFIX = "intake/dsar/"
INTAKE_MAX_BYTES = 64 * 1024
_INTAKE_LISTS = ("phones", "emails", "crm_ids")
_INTAKE_TEXTS = ("new_email", "new_phone", "new_caller_name")


class IntakeDocument(BaseModel):
    """The identifiers of a launchpad request, read from its intake file."""

    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    crm_ids: list[str] = Field(default_factory=list)
    new_email: str = ""
    new_phone: str = ""
    new_caller_name: str = ""


def read_intake(object_store: ObjectStoreResource, path: str) -> IntakeDocument:
    """Load and shape-check an intake file; refusals name the problem, never a value."""
    if not path:
        return IntakeDocument()
    if not path.startswith(INTAKE_PREFIX):
        raise _failure(f"intake_file must be an object-store path under {INTAKE_PREFIX}")
    try:
        if not object_store.exists(path):
            raise _failure(
                "intake_file does not exist (intake files are deleted once their request is "
                "stored: run the stored request by its request_id)"
            )
        data = object_store.read_bytes(path)
    except ValueError:
        raise _failure("intake_file is not a valid object-store path") from None
    if len(data) > INTAKE_MAX_BYTES:
        raise _failure(f"intake_file is larger than {INTAKE_MAX_BYTES} bytes")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _failure("intake_file is not a JSON document") from None
    if not isinstance(document, dict):
        raise _failure("intake_file must hold a JSON object")
    unknown = sorted(set(document) - set(_INTAKE_LISTS) - set(_INTAKE_TEXTS))
    if unknown:
        raise _failure(f"intake_file has unknown keys: {', '.join(k[:40] for k in unknown)}")
    for key in _INTAKE_LISTS:
        values = document.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _failure(f"intake_file: {key} must be a list of strings")
    for key in _INTAKE_TEXTS:
        if not isinstance(document.get(key, ""), str):
            raise _failure(f"intake_file: {key} must be a string")
    return IntakeDocument(**document)


def fulfilment_run_config(request_id: str) -> dict[str, Any]:
    """Run config launching ``dsar_fulfillment_job`` for a stored request."""
    return {"ops": {GATE_OP: {"config": {"request_id": request_id}}}}


def _failure(message: str, **metadata: Any) -> dg.Failure:
    return dg.Failure(description=message, metadata=metadata, allow_retries=False)


def _tenant(platform_config: PlatformConfigResource, tenant_id: str) -> Tenant:
    tenant = platform_config.tenants_by_id().get(tenant_id)
    if tenant is None:
        raise _failure(f"tenant {tenant_id} of this request is no longer configured")
    return tenant


def _identifiers_from(intake: IntakeDocument) -> list[tuple[str, str]]:
    return (
        [("phone", value) for value in intake.phones]
        + [("email", value) for value in intake.emails]
        + [("crm_id", value) for value in intake.crm_ids]
    )


def _submit_from_config(
    context: dg.OpExecutionContext,
    config: DsarRunConfig,
    intake: IntakeDocument,
    warehouse: WarehouseResource,
    tenants: dict[str, Tenant],
) -> str:
    try:
        validated = validate_request(
            tenant_id=config.tenant or None,
            request_type=config.request_type or None,
            identifiers=_identifiers_from(intake),
            tenants=tenants,
            jurisdiction=config.jurisdiction or None,
            received_at=config.received_at or None,
            new_email=intake.new_email or None,
            new_phone=intake.new_phone or None,
            new_caller_name=intake.new_caller_name or None,
        )
    except RequestRefused as exc:
        raise _failure(
            "request refused: " + "; ".join(exc.problems), problems=len(exc.problems)
        ) from None
    with warehouse.begin() as connection:
        return store.submit_request(
            connection,
            validated,
            tenant=tenants[validated.tenant_id],
            hash_key=settings.identifier_hash_key(),
            submitted_by=f"launchpad:{context.run_id}",
            run_id=context.run_id,
        )


def _apply_run_config(
    config: DsarRunConfig,
    intake: IntakeDocument,
    warehouse: WarehouseResource,
    request_id: str,
    tenant: Tenant,
    run_id: str,
) -> None:
    """Verification (run config) and rectification values (intake file) for a stored request."""
    rectification_given = intake.new_email or intake.new_phone or intake.new_caller_name
    if rectification_given:
        rectification, problems = validate_rectification(
            new_email=intake.new_email or None,
            new_phone=intake.new_phone or None,
            new_caller_name=intake.new_caller_name or None,
            country=tenant.country,
        )
        if problems:
            raise _failure("rectification refused: " + "; ".join(problems))
        with warehouse.begin() as connection:
            record = store.load_request(connection, request_id)
            if record.request_type != "rectification":
                raise _failure(
                    f"request {request_id} is a {record.request_type} request; corrected "
                    "details apply to rectification requests only"
                )
            if record.state in ("pending", "verified"):
                store.save_rectification(connection, request_id, rectification)
    if config.verification_method or config.verified_by:
        try:
            method, verified_by = validate_verification(
                config.verification_method, config.verified_by
            )
        except RequestRefused as exc:
            raise _failure("verification refused: " + "; ".join(exc.problems)) from None
        with warehouse.begin() as connection:
            if store.load_request(connection, request_id).state == "pending":
                store.verify_request(
                    connection, request_id, method=method, verified_by=verified_by, run_id=run_id
                )


@dg.op(
    name=GATE_OP,
    out=dg.Out(str, description="The request id, once verified and in progress."),
    tags={"cm/capability": "dsar"},
)
def dsar_gate(
    context: dg.OpExecutionContext,
    config: DsarRunConfig,
    warehouse: WarehouseResource,
    platform_config: PlatformConfigResource,
    object_store: ObjectStoreResource,
) -> str:
    """Intake and the verification gate: nothing runs for a request that is not verified."""
    warehouse.assert_schema_current()
    tenants = platform_config.tenants_by_id()
    request_id = config.request_id.strip()
    intake = read_intake(object_store, config.intake_file.strip())
    if not request_id:
        if not (config.tenant or config.request_type or _identifiers_from(intake)):
            raise _failure("give request_id, or the tenant, type and intake_file of a new request")
        request_id = _submit_from_config(context, config, intake, warehouse, tenants)
    if config.intake_file.strip():
        # the identifiers now live in the warehouse only; the intake file must not linger
        outcome = purge_objects(object_store, [config.intake_file.strip()])
        if outcome.failed:
            context.log.warning("the intake file could not be deleted; delete it by hand")
    try:
        with warehouse.connect() as connection:
            record = store.load_request(connection, request_id)
    except store.DsarError as exc:
        raise _failure(str(exc)) from None
    if context.run.tags.get(REQUEST_TAG) != request_id:
        context.instance.add_run_tags(context.run_id, {REQUEST_TAG: request_id})
    tenant = _tenant(platform_config, record.tenant_id)
    _apply_run_config(config, intake, warehouse, request_id, tenant, context.run_id)
    with warehouse.begin() as connection:
        record = store.load_request(connection, request_id)
        if record.state == "pending":
            append_audit(
                connection,
                actor=store.ACTOR_PIPELINE,
                action="dsar.gate.refused",
                tenant_id=record.tenant_id,
                object_refs={"request_id": request_id},
                details={"reason": "not_verified"},
                run_id=context.run_id,
            )
    if record.state == "pending":
        raise _failure(
            f"request {request_id} is not verified: nothing was disclosed or changed and it "
            f"stays pending. Verify identity or authority first: cm dsar verify {request_id} "
            "--method METHOD --by WHO",
            request_id=request_id,
            state="pending",
        )
    if record.state == "refused":
        raise _failure(f"request {request_id} was refused; it cannot be fulfilled")
    if record.state == "completed":
        context.log.info(f"request {request_id} is already completed; nothing to do")
    else:
        try:
            with warehouse.begin() as connection:
                claimed = store.claim_request(
                    connection,
                    request_id,
                    context.run_id,
                    is_run_active=lambda run_id: _run_is_active(context.instance, run_id),
                )
                append_audit(
                    connection,
                    actor=store.ACTOR_PIPELINE,
                    action=f"dsar.{claimed}",
                    tenant_id=record.tenant_id,
                    object_refs={"request_id": request_id},
                    details={"type": record.request_type},
                    run_id=context.run_id,
                )
        except store.DsarError as exc:
            raise _failure(str(exc), request_id=request_id) from None
    context.add_output_metadata(
        {
            "request_id": request_id,
            "tenant_id": record.tenant_id,
            "type": record.request_type,
            "state": record.state,
            "due_date": record.effective_due_date.isoformat(),
        }
    )
    return request_id


def _run_is_active(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is not None and not run.is_finished


def _fulfilment(
    context: dg.OpExecutionContext,
    request_id: str,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> Fulfilment | None:
    """The request's fulfilment, or None when it is already completed (a no-op re-run)."""
    with warehouse.connect() as connection:
        record = store.load_request(connection, request_id)
    if record.state == "completed":
        return None
    return Fulfilment(
        warehouse=warehouse,
        object_store=object_store,
        tenant=_tenant(platform_config, record.tenant_id),
        request_id=request_id,
        hash_key=settings.identifier_hash_key(),
        run_id=context.run_id,
    )


def _step_metadata(details: dict[str, Any]) -> dict[str, Any]:
    return {
        key: dg.MetadataValue.json(value) if isinstance(value, dict | list) else value
        for key, value in details.items()
        if value is not None
    }


@dg.op(out=dg.Out(str), tags={"cm/capability": "dsar"})
def dsar_locate(
    context: dg.OpExecutionContext,
    request_id: str,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> str:
    """Locate the subject in every store of the tenant and persist the plan (with exemptions)."""
    fulfilment = _fulfilment(context, request_id, warehouse, object_store, platform_config)
    if fulfilment is not None:
        details = fulfilment.locate_and_plan()
        context.add_output_metadata(_step_metadata(details))
    return request_id


@dg.op(out=dg.Out(str), tags={"cm/capability": "dsar"})
def dsar_execute(
    context: dg.OpExecutionContext,
    request_id: str,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> str:
    """Export, erase, restrict, rectify, suppress or revoke, as the request type asks."""
    fulfilment = _fulfilment(context, request_id, warehouse, object_store, platform_config)
    if fulfilment is not None:
        try:
            fulfilment.execute()
        except FulfilmentError as exc:
            raise _failure(str(exc), request_id=request_id) from None
        report = fulfilment.report
        metadata: dict[str, Any] = {
            "steps_run": dg.MetadataValue.json(report.steps_run),
            "steps_resumed_past": dg.MetadataValue.json(report.steps_skipped),
        }
        if report.result_path:
            metadata["result_path"] = report.result_path
        if report.key_delivery:
            metadata["key_delivery"] = report.key_delivery
        context.add_output_metadata(metadata)
    return request_id


@dg.op(out=dg.Out(str), tags={"cm/capability": "dsar"})
def dsar_verify(
    context: dg.OpExecutionContext,
    request_id: str,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> str:
    """Check the request's effect; an erasure locates again and only exemptions may remain."""
    fulfilment = _fulfilment(context, request_id, warehouse, object_store, platform_config)
    if fulfilment is not None:
        try:
            details = fulfilment.verify()
        except FulfilmentError as exc:
            raise _failure(str(exc), request_id=request_id) from None
        context.add_output_metadata(_step_metadata(details))
    return request_id


@dg.op(tags={"cm/capability": "dsar"})
def dsar_complete(
    context: dg.OpExecutionContext,
    request_id: str,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> None:
    """Certificate (erasure), result location, state ``completed``."""
    fulfilment = _fulfilment(context, request_id, warehouse, object_store, platform_config)
    if fulfilment is None:
        return
    details = fulfilment.complete()
    context.add_output_metadata(_step_metadata(details))


@dg.job(
    name=JOB_NAME,
    description=(
        "Fulfil one verified data-subject request within its tenant: locate, then export, "
        "erase (with exemptions, verification and a certificate), restrict, rectify, suppress "
        "or revoke. Unverified requests are refused before anything is read."
    ),
    tags={"cm/capability": "dsar"},
)
def dsar_fulfillment_job() -> None:
    dsar_complete(dsar_verify(dsar_execute(dsar_locate(dsar_gate()))))


# ---------------------------------------------------------------- SLA and export expiry


def sla_rows(
    warehouse: WarehouseResource, tenants: dict[str, Tenant], now: datetime | None = None
) -> list[dict[str, Any]]:
    """Open requests with days left (tenant-local today), soonest first."""
    with warehouse.connect() as connection:
        records = store.open_requests(connection)
    rows = []
    for record in records:
        tenant = tenants.get(record.tenant_id)
        timezone = tenant.timezone if tenant else "UTC"
        today = store.tenant_today(timezone, now)
        due = record.effective_due_date
        rows.append(
            {
                "request_id": record.request_id,
                "tenant_id": record.tenant_id,
                "type": record.request_type,
                "state": record.state,
                "jurisdiction": record.jurisdiction,
                "due_date": due.isoformat(),
                "extended": record.extended_due_date is not None,
                "days_left": dsar_clock.days_left(due, today),
                "ack_due_date": record.ack_due_date.isoformat() if record.ack_due_date else None,
            }
        )
    return sorted(rows, key=lambda row: (row["days_left"], row["request_id"]))


def _sla_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| request | tenant | type | state | due | days left |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['request_id']} | {r['tenant_id']} | {r['type']} | {r['state']} | "
        f"{r['due_date']}{' (ext.)' if r['extended'] else ''} | {r['days_left']} |"
        for r in rows[:200]
    ]
    return "\n".join(lines)


@dg.asset(group_name=DSAR_GROUP, kinds={"python"}, tags={"cm/capability": "dsar"})
def dsar_sla(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Open data-subject requests by days left on their statutory clock (ids only)."""
    warehouse.assert_schema_current()
    rows = sla_rows(warehouse, platform_config.tenants_by_id())
    overdue = [row for row in rows if row["days_left"] < 0]
    if overdue:
        context.log.warning(f"{len(overdue)} data-subject request(s) overdue")
    return dg.MaterializeResult(
        metadata={
            "open_requests": len(rows),
            "overdue": len(overdue),
            "due_within_7_days": sum(1 for row in rows if 0 <= row["days_left"] <= 7),
            "soonest_days_left": rows[0]["days_left"] if rows else dg.MetadataValue.null(),
            "by_state": dg.MetadataValue.json(dict(Counter(row["state"] for row in rows))),
            "requests": dg.MetadataValue.md(_sla_table(rows)),
        }
    )


@dg.asset_check(
    asset=dsar_sla,
    description="Fails when an open data-subject request is past its (extended) due date.",
)
def dsar_none_overdue(
    warehouse: WarehouseResource, platform_config: PlatformConfigResource
) -> dg.AssetCheckResult:
    rows = sla_rows(warehouse, platform_config.tenants_by_id())
    overdue = [row for row in rows if row["days_left"] < 0]
    return dg.AssetCheckResult(
        passed=not overdue,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "overdue": len(overdue),
            "overdue_request_ids": dg.MetadataValue.json([row["request_id"] for row in overdue]),
            "most_days_overdue": -min((row["days_left"] for row in overdue), default=0),
        },
    )


@dg.asset(group_name=DSAR_GROUP, kinds={"python"}, tags={"cm/capability": "dsar"})
def dsar_export_expiry(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Access packages past their expiry are deleted from the exports prefix (confirmed gone)."""
    warehouse.assert_schema_current()
    now = datetime.now(UTC)
    with warehouse.connect() as connection:
        expired = (
            connection.execute(
                dsar_exports.select().where(
                    dsar_exports.c.deleted_at.is_(None), dsar_exports.c.expires_at <= now
                )
            )
            .mappings()
            .all()
        )
    outcome = purge_objects(object_store, [row["object_path"] for row in expired])
    gone = set(outcome.gone)
    with warehouse.begin() as connection:
        for row in expired:
            if row["object_path"] not in gone:
                continue
            connection.execute(
                dsar_exports.update().where(dsar_exports.c.id == row["id"]).values(deleted_at=now)
            )
            # its key, if sealed and never collected, opens nothing any more
            key_handoff.discard_sealed_key(row["request_id"], object_store)
            append_audit(
                connection,
                actor="dsar_export_expiry",
                action="dsar.export.expired",
                tenant_id=row["tenant_id"],
                object_refs={"request_id": row["request_id"], "object_path": row["object_path"]},
                details={"sha256": row["sha256"]},
                run_id=context.run_id,
            )
    if outcome.failed:
        context.log.warning(f"{len(outcome.failed)} expired package(s) could not be deleted yet")
    return dg.MaterializeResult(
        metadata={
            "expired": len(expired),
            "deleted": len(gone & {row["object_path"] for row in expired}),
            "failed": len(outcome.failed),
        }
    )
