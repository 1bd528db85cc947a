"""The ops of ``dsar_fulfillment_job``: gate -> locate -> execute -> verify -> complete.

Each op wires resources to the fulfilment services and reports ids, counts, hashes and object
paths (never an identifier, never the export key). Every step is logged in ``dsar_steps`` and
audited, so a killed run re-launched for the same request resumes where it stopped.
"""

# No ``from __future__ import annotations`` here: Dagster reads the op signatures' types at
# definition time and cannot resolve a string annotation of a run-config class.
from typing import Any

import dagster as dg

from cm_pipelines.domain.dncr.evidence_floors import strictest_floor
from cm_pipelines.dsar.erasure_approval import close_erasure_approval, erasure_gate
from cm_pipelines.dsar.fulfil import dispatch
from cm_pipelines.dsar.fulfil.complete import complete
from cm_pipelines.dsar.fulfil.context import FulfilmentContext, FulfilmentError
from cm_pipelines.dsar.fulfil.locate_and_plan import locate_and_plan
from cm_pipelines.dsar.gate import (
    apply_run_config,
    claim_for_run,
    refuse_unverified,
    submit_from_config,
    tenant_of,
)
from cm_pipelines.dsar.intake import identifiers_from, read_intake
from cm_pipelines.dsar.request_records import DsarError, load_request
from cm_pipelines.dsar.run_config import GATE_OP, REQUEST_TAG, DsarRunConfig, step_failure
from cm_pipelines.platform import settings
from cm_pipelines.platform.run_liveness import run_is_dead
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_purge import purge_objects
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource


def _request_id(
    context: dg.OpExecutionContext,
    config: DsarRunConfig,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    tenants: dict,
) -> str:
    """The stored request this run fulfils (a launchpad request is stored first); the intake
    file is deleted as soon as its identifiers live in the warehouse."""
    request_id = config.request_id.strip()
    intake_file = config.intake_file.strip()
    intake = read_intake(object_store, intake_file)
    if not request_id:
        if not (config.tenant or config.request_type or identifiers_from(intake)):
            raise step_failure(
                "give request_id, or the tenant, type and intake_file of a new request"
            )
        request_id = submit_from_config(config, intake, warehouse, tenants, context.run_id)
    if intake_file and purge_objects(object_store, [intake_file]).failed:
        context.log.warning("the intake file could not be deleted; delete it by hand")
    try:
        with warehouse.connect() as connection:
            record = load_request(connection, request_id)
    except DsarError as exc:
        raise step_failure(str(exc)) from None
    if context.run.tags.get(REQUEST_TAG) != request_id:
        context.instance.add_run_tags(context.run_id, {REQUEST_TAG: request_id})
    tenant = tenant_of(tenants, record.tenant_id)
    apply_run_config(config, intake, warehouse, request_id, tenant, context.run_id)
    return request_id


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
    request_id = _request_id(context, config, warehouse, object_store, tenants)
    record = refuse_unverified(warehouse, request_id, context.run_id)
    if record.state == "completed":
        context.log.info(f"request {request_id} is already completed; nothing to do")
    else:
        claim_for_run(
            warehouse,
            record,
            context.run_id,
            is_run_active=lambda run_id: _run_is_active(context.instance, run_id),
        )
    context.add_output_metadata(
        {
            "request_id": request_id,
            "tenant_id": record.tenant_id,
            "type": record.request_type,
            "state": record.state,
            "time_zone": tenant_of(tenants, record.tenant_id).timezone,
            "due_date": record.effective_due_date.isoformat(),
        }
    )
    return request_id


def _launcher(context: dg.OpExecutionContext) -> str:
    """Who started a run without a cm/actor tag: its sensor or schedule, else the launchpad."""
    tags = context.run.tags
    origin = tags.get("dagster/sensor_name") or tags.get("dagster/schedule_name") or "launchpad"
    return f"dagster:{origin}"


def _run_is_active(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Still fulfilling the request: not finished, and its process not known dead."""
    run = instance.get_run_by_id(run_id)
    return run is not None and not run_is_dead(run)


def _fulfilment(
    context: dg.OpExecutionContext,
    request_id: str,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> FulfilmentContext | None:
    """The request's fulfilment, or None when it is already completed (a no-op re-run) or its
    package awaits the privacy officer's review (verify and complete wait for the approval)."""
    with warehouse.connect() as connection:
        record = load_request(connection, request_id)
    if record.state in ("completed", "awaiting_review"):
        return None
    tenant = tenant_of(platform_config.tenants_by_id(), record.tenant_id)
    floor = None
    if tenant.registries:
        registries = {registry.id: registry for registry in platform_config.registries()}
        floor = strictest_floor(tenant, registries)
    return FulfilmentContext(
        warehouse=warehouse,
        object_store=object_store,
        tenant=tenant,
        request_id=request_id,
        hash_key=settings.identifier_hash_key(),
        run_id=context.run_id,
        dnc_rule=floor.rule if floor is not None else None,
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
        details = locate_and_plan(fulfilment)
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
            approval_id = erasure_gate(
                fulfilment,
                requested_by=context.run.tags.get("cm/actor") or _launcher(context),
                threshold=settings.erasure_approval_threshold(),
            )
            dispatch.execute(fulfilment)
            close_erasure_approval(fulfilment, approval_id)
        except FulfilmentError as exc:
            raise step_failure(str(exc), request_id=request_id) from None
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
            details = dispatch.verify(fulfilment)
        except FulfilmentError as exc:
            raise step_failure(str(exc), request_id=request_id) from None
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
    try:
        details = complete(fulfilment)
    except FulfilmentError as exc:
        raise step_failure(str(exc), request_id=request_id) from None
    context.add_output_metadata(_step_metadata(details))
