"""The verification gate of a fulfilment run: which request it is, and whether it may proceed.

A run names a stored request, or submits a new one from the launchpad's typed config and intake
file. Verification given in run config and rectification values from the intake file are
recorded first; then a request that is still unverified is refused (audited) before anything is
read, one already refused or completed is not run again, and any other is claimed for this run.
"""

from __future__ import annotations

from collections.abc import Callable

from cm_pipelines.domain.dsar.requests import (
    RequestRefused,
    validate_rectification,
    validate_request,
    validate_verification,
)
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.intake import IntakeDocument, identifiers_from
from cm_pipelines.dsar.request_changes import (
    ACTOR_PIPELINE,
    claim_request,
    save_rectification,
    submit_request,
    verify_request,
)
from cm_pipelines.dsar.request_records import DsarError, RequestRecord, load_request
from cm_pipelines.dsar.run_config import DsarRunConfig, step_failure
from cm_pipelines.platform import settings
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.warehouse import WarehouseResource


def submit_from_config(
    config: DsarRunConfig,
    intake: IntakeDocument,
    warehouse: WarehouseResource,
    tenants: dict[str, Tenant],
    run_id: str,
) -> str:
    """Store the launchpad's new request; a refusal lists every problem, never a value."""
    try:
        validated = validate_request(
            tenant_id=config.tenant or None,
            request_type=config.request_type or None,
            identifiers=identifiers_from(intake),
            tenants=tenants,
            jurisdiction=config.jurisdiction or None,
            received_at=config.received_at or None,
            new_email=intake.new_email or None,
            new_phone=intake.new_phone or None,
            new_caller_name=intake.new_caller_name or None,
        )
    except RequestRefused as exc:
        raise step_failure(
            "request refused: " + "; ".join(exc.problems), problems=len(exc.problems)
        ) from None
    with warehouse.begin() as connection:
        return submit_request(
            connection,
            validated,
            tenant=tenants[validated.tenant_id],
            hash_key=settings.identifier_hash_key(),
            submitted_by=f"launchpad:{run_id}",
            run_id=run_id,
        )


def tenant_of(tenants: dict[str, Tenant], tenant_id: str) -> Tenant:
    tenant = tenants.get(tenant_id)
    if tenant is None:
        raise step_failure(f"tenant {tenant_id} of this request is no longer configured")
    return tenant


def _apply_rectification(
    intake: IntakeDocument, warehouse: WarehouseResource, request_id: str, tenant: Tenant
) -> None:
    rectification, problems = validate_rectification(
        new_email=intake.new_email or None,
        new_phone=intake.new_phone or None,
        new_caller_name=intake.new_caller_name or None,
        country=tenant.country,
    )
    if problems:
        raise step_failure("rectification refused: " + "; ".join(problems))
    with warehouse.begin() as connection:
        record = load_request(connection, request_id)
        if record.request_type != "rectification":
            raise step_failure(
                f"request {request_id} is a {record.request_type} request; corrected "
                "details apply to rectification requests only"
            )
        if record.state in ("pending", "verified"):
            save_rectification(connection, request_id, rectification)


def _apply_verification(
    config: DsarRunConfig, warehouse: WarehouseResource, request_id: str, run_id: str
) -> None:
    try:
        method, verified_by = validate_verification(config.verification_method, config.verified_by)
    except RequestRefused as exc:
        raise step_failure("verification refused: " + "; ".join(exc.problems)) from None
    with warehouse.begin() as connection:
        if load_request(connection, request_id).state == "pending":
            verify_request(
                connection, request_id, method=method, verified_by=verified_by, run_id=run_id
            )


def apply_run_config(
    config: DsarRunConfig,
    intake: IntakeDocument,
    warehouse: WarehouseResource,
    request_id: str,
    tenant: Tenant,
    run_id: str,
) -> None:
    """Verification (run config) and rectification values (intake file) for a stored request."""
    if intake.new_email or intake.new_phone or intake.new_caller_name:
        _apply_rectification(intake, warehouse, request_id, tenant)
    if config.verification_method or config.verified_by:
        _apply_verification(config, warehouse, request_id, run_id)


def refuse_unverified(warehouse: WarehouseResource, request_id: str, run_id: str) -> RequestRecord:
    """The request as it stands now; an unverified one is refused (audited) and fails the run:
    nothing was disclosed or changed and it stays pending."""
    with warehouse.begin() as connection:
        record = load_request(connection, request_id)
        if record.state == "pending":
            append_audit(
                connection,
                actor=ACTOR_PIPELINE,
                action="dsar.gate.refused",
                tenant_id=record.tenant_id,
                object_refs={"request_id": request_id},
                details={"reason": "not_verified"},
                run_id=run_id,
            )
    if record.state == "pending":
        raise step_failure(
            f"request {request_id} is not verified: nothing was disclosed or changed and it "
            f"stays pending. Verify identity or authority first: cm dsar verify {request_id} "
            "--method METHOD --by WHO",
            request_id=request_id,
            state="pending",
        )
    if record.state == "refused":
        raise step_failure(f"request {request_id} was refused; it cannot be fulfilled")
    return record


def claim_for_run(
    warehouse: WarehouseResource,
    record: RequestRecord,
    run_id: str,
    is_run_active: Callable[[str], bool],
) -> None:
    """Take the request for this run (a run of a dead claim holder is taken over), audited."""
    try:
        with warehouse.begin() as connection:
            claimed = claim_request(
                connection, record.request_id, run_id, is_run_active=is_run_active
            )
            append_audit(
                connection,
                actor=ACTOR_PIPELINE,
                action=f"dsar.{claimed}",
                tenant_id=record.tenant_id,
                object_refs={"request_id": record.request_id},
                details={"type": record.request_type},
                run_id=run_id,
            )
    except DsarError as exc:
        raise step_failure(str(exc), request_id=record.request_id) from None
