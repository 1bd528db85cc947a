"""Requests in the warehouse: intake, verification, extension, state and the per-step log.

All three doors (``cm dsar submit``, the launchpad run config, the sensor's source) write through
``submit_request``; every change appends an audit entry with ids, counts and hashes only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from cm_pipelines.domain.dsar import clock as dsar_clock
from cm_pipelines.domain.dsar.requests import (
    OPEN_STATES,
    Identifier,
    Rectification,
    ValidatedRequest,
    is_request_id,
    new_request_id,
)
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables.dsar import (
    dsar_certificates,
    dsar_exports,
    dsar_requests,
    dsar_steps,
    dsar_store_results,
)

ACTOR_PIPELINE = "dsar_fulfillment_job"


class DsarError(RuntimeError):
    """A request operation was refused; the message says what to do (ids only)."""


class RequestNotFound(DsarError):
    pass


class RequestNotVerified(DsarError):
    pass


@dataclass(frozen=True)
class RequestRecord:
    request_id: str
    tenant_id: str
    request_type: str
    jurisdiction: str
    identifiers: tuple[Identifier, ...]
    identifier_hashes: tuple[dict[str, str], ...]
    rectification: Rectification
    received_at: datetime
    received_on: date
    due_date: date
    extended_due_date: date | None
    ack_due_date: date | None
    state: str
    verification_method: str | None
    verified_by: str | None
    verified_at: datetime | None
    result_path: str | None
    completed_at: datetime | None
    identifiers_erased: bool

    @property
    def effective_due_date(self) -> date:
        return dsar_clock.effective_due_date(self.due_date, self.extended_due_date)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _record(row: Mapping[str, Any] | sa.RowMapping) -> RequestRecord:
    erased = row["identifiers_erased_at"] is not None
    identifiers = () if erased else tuple(Identifier.from_dict(i) for i in row["identifiers"])
    rectification = Rectification(**(row["rectification"] or {}))
    return RequestRecord(
        request_id=row["request_id"],
        tenant_id=row["tenant_id"],
        request_type=row["request_type"],
        jurisdiction=row["jurisdiction"],
        identifiers=identifiers,
        identifier_hashes=tuple(dict(h) for h in row["identifier_hashes"]),
        rectification=rectification,
        received_at=_utc(row["received_at"]),  # type: ignore[arg-type]
        received_on=row["received_on"],
        due_date=row["due_date"],
        extended_due_date=row["extended_due_date"],
        ack_due_date=row["ack_due_date"],
        state=row["state"],
        verification_method=row["verification_method"],
        verified_by=row["verified_by"],
        verified_at=_utc(row["verified_at"]),
        result_path=row["result_path"],
        completed_at=_utc(row["completed_at"]),
        identifiers_erased=erased,
    )


def identifier_hashes(identifiers: tuple[Identifier, ...], key: bytes) -> list[dict[str, str]]:
    return [{"kind": i.kind, "hash": keyed_hash(i.hash_input(), key)} for i in identifiers]


def submit_request(
    connection: sa.Connection,
    request: ValidatedRequest,
    *,
    tenant: Tenant,
    hash_key: bytes,
    submitted_by: str,
    run_id: str | None = None,
    now: datetime | None = None,
) -> str:
    """Store a validated request (state ``pending``) with its statutory clock; returns its id."""
    now = now or datetime.now(UTC)
    request_id = new_request_id()
    received_on = dsar_clock.receipt_day(request.received_at, tenant.timezone)
    clock = dsar_clock.statutory_clock(request.jurisdiction, received_on)
    hashes = identifier_hashes(request.identifiers, hash_key)
    connection.execute(
        sa.insert(dsar_requests).values(
            request_id=request_id,
            tenant_id=request.tenant_id,
            request_type=request.request_type,
            jurisdiction=request.jurisdiction,
            identifiers=[i.as_dict() for i in request.identifiers],
            identifier_hashes=hashes,
            rectification=request.rectification.as_dict() or None,
            received_at=request.received_at,
            received_on=received_on,
            due_date=clock.due_date,
            ack_due_date=clock.ack_due_date,
            state="pending",
            submitted_by=submitted_by,
            created_at=now,
            updated_at=now,
        )
    )
    append_audit(
        connection,
        actor=submitted_by,
        action="dsar.submit",
        tenant_id=request.tenant_id,
        object_refs={"request_id": request_id},
        details={
            "type": request.request_type,
            "jurisdiction": request.jurisdiction,
            "identifier_kinds": dict(Counter(i.kind for i in request.identifiers)),
            "identifier_hashes": [h["hash"] for h in hashes],
            "received_on": received_on.isoformat(),
            "due_date": clock.due_date.isoformat(),
            "rectification_fields": sorted(request.rectification.as_dict()),
        },
        run_id=run_id,
    )
    return request_id


def load_request(connection: sa.Connection, request_id: str) -> RequestRecord:
    if not is_request_id(request_id):
        raise RequestNotFound("a request id looks like dsar- followed by 20 hex digits")
    row = (
        connection.execute(sa.select(dsar_requests).where(dsar_requests.c.request_id == request_id))
        .mappings()
        .first()
    )
    if row is None:
        raise RequestNotFound(f"no request {request_id}: check the id (cm dsar status)")
    return _record(row)


def _update(connection: sa.Connection, request_id: str, now: datetime, **values: Any) -> None:
    connection.execute(
        sa.update(dsar_requests)
        .where(dsar_requests.c.request_id == request_id)
        .values(updated_at=now, **values)
    )


def verify_request(
    connection: sa.Connection,
    request_id: str,
    *,
    method: str,
    verified_by: str,
    run_id: str | None = None,
    now: datetime | None = None,
) -> RequestRecord:
    """pending -> verified, recording how identity or authority was checked and by whom."""
    now = now or datetime.now(UTC)
    record = load_request(connection, request_id)
    if record.state != "pending":
        raise DsarError(
            f"request {request_id} is {record.state}; only a pending request is verified"
        )
    _update(
        connection,
        request_id,
        now,
        state="verified",
        verification_method=method,
        verified_by=verified_by,
        verified_at=now,
    )
    append_audit(
        connection,
        actor=verified_by,
        action="dsar.verify",
        tenant_id=record.tenant_id,
        object_refs={"request_id": request_id},
        details={"method": method},
        run_id=run_id,
    )
    return load_request(connection, request_id)


def extend_request(
    connection: sa.Connection,
    request_id: str,
    *,
    reason: str,
    extended_by: str,
    now: datetime | None = None,
) -> RequestRecord:
    """Extend the deadline once, as the jurisdiction allows, with the reason recorded."""
    now = now or datetime.now(UTC)
    record = load_request(connection, request_id)
    if not record.is_open:
        raise DsarError(f"request {request_id} is {record.state}; only an open request is extended")
    try:
        new_due, cleaned = dsar_clock.extend(
            record.jurisdiction,
            record.received_on,
            reason,
            already_extended=record.extended_due_date is not None,
        )
    except dsar_clock.ExtensionNotAllowed as exc:
        raise DsarError(str(exc)) from exc
    _update(
        connection,
        request_id,
        now,
        extended_due_date=new_due,
        extension_reason=cleaned,
        extended_at=now,
        extended_by=extended_by,
    )
    append_audit(
        connection,
        actor=extended_by,
        action="dsar.extend",
        tenant_id=record.tenant_id,
        object_refs={"request_id": request_id},
        details={"extended_due_date": new_due.isoformat(), "reason_chars": len(cleaned)},
    )
    return load_request(connection, request_id)


def set_state(
    connection: sa.Connection,
    request_id: str,
    state: str,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
    **values: Any,
) -> None:
    _update(
        connection, request_id, now or datetime.now(UTC), state=state, last_run_id=run_id, **values
    )


def claim_request(
    connection: sa.Connection,
    request_id: str,
    run_id: str,
    *,
    is_run_active: Callable[[str], bool],
    now: datetime | None = None,
) -> str:
    """Make ``run_id`` the one run fulfilling the request: ``started`` (verified -> in progress)
    or ``resumed`` (an earlier run stopped). Refused while another run is still active, so the
    sensor and ``cm dsar run`` can never fulfil one request twice at the same time."""
    now = now or datetime.now(UTC)
    started = connection.execute(
        sa.update(dsar_requests)
        .where(dsar_requests.c.request_id == request_id, dsar_requests.c.state == "verified")
        .values(state="in_progress", last_run_id=run_id, updated_at=now)
    )
    if started.rowcount == 1:
        return "started"
    row = connection.execute(
        sa.select(dsar_requests.c.state, dsar_requests.c.last_run_id).where(
            dsar_requests.c.request_id == request_id
        )
    ).first()
    if row is None or row.state != "in_progress":
        raise DsarError(f"request {request_id} is not verified or in progress")
    holder = row.last_run_id
    if holder and holder != run_id and is_run_active(holder):
        raise DsarError(
            f"request {request_id} is being fulfilled by run {holder}; wait for it to finish"
        )
    _update(connection, request_id, now, last_run_id=run_id)
    return "resumed"


def save_rectification(
    connection: sa.Connection, request_id: str, rectification: Rectification
) -> None:
    _update(
        connection,
        request_id,
        datetime.now(UTC),
        rectification=rectification.as_dict() or None,
    )


def erase_request_identifiers(connection: sa.Connection, request_id: str, now: datetime) -> None:
    """After an erasure the request itself keeps only the identifiers' keyed hashes."""
    _update(
        connection,
        request_id,
        now,
        identifiers=[],
        rectification=None,
        identifiers_erased_at=now,
    )


# ---------------------------------------------------------------- step log and store results


def step_done(connection: sa.Connection, request_id: str, step: str) -> dict[str, Any] | None:
    """The details a completed step recorded, or None when it has not completed yet."""
    row = connection.execute(
        sa.select(dsar_steps.c.details).where(
            dsar_steps.c.request_id == request_id, dsar_steps.c.step == step
        )
    ).first()
    return None if row is None else dict(row[0])


def record_step(
    connection: sa.Connection,
    request_id: str,
    step: str,
    *,
    tenant_id: str,
    details: Mapping[str, Any],
    run_id: str | None,
    now: datetime | None = None,
) -> None:
    """Mark a step complete and audit it, in the caller's transaction (ids/counts only)."""
    connection.execute(
        sa.insert(dsar_steps).values(
            request_id=request_id,
            step=step,
            completed_at=now or datetime.now(UTC),
            run_id=run_id,
            details=dict(details),
        )
    )
    append_audit(
        connection,
        actor=ACTOR_PIPELINE,
        action=f"dsar.step.{step}"[:64],
        tenant_id=tenant_id,
        object_refs={"request_id": request_id},
        details=dict(details),
        run_id=run_id,
    )


def record_store_results(
    connection: sa.Connection,
    request_id: str,
    phase: str,
    results: Mapping[str, Mapping[str, Any]],
    run_id: str | None,
    now: datetime | None = None,
) -> None:
    """Replace the per-store results of one phase (found / acted / exempted and details)."""
    connection.execute(
        sa.delete(dsar_store_results).where(
            dsar_store_results.c.request_id == request_id, dsar_store_results.c.phase == phase
        )
    )
    rows = [
        {
            "request_id": request_id,
            "phase": phase,
            "store": store,
            "found": int(values.get("found", 0)),
            "acted": int(values.get("acted", 0)),
            "exempted": int(values.get("exempted", 0)),
            "details": dict(values.get("details", {})),
            "recorded_at": now or datetime.now(UTC),
            "run_id": run_id,
        }
        for store, values in sorted(results.items())
    ]
    if rows:
        connection.execute(sa.insert(dsar_store_results), rows)


def upsert_store_result(
    connection: sa.Connection,
    request_id: str,
    phase: str,
    store: str,
    *,
    found: int = 0,
    acted: int = 0,
    exempted: int = 0,
    details: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    """Set one store's result of one phase (execution records stores one at a time)."""
    key = (
        (dsar_store_results.c.request_id == request_id)
        & (dsar_store_results.c.phase == phase)
        & (dsar_store_results.c.store == store)
    )
    connection.execute(sa.delete(dsar_store_results).where(key))
    connection.execute(
        sa.insert(dsar_store_results).values(
            request_id=request_id,
            phase=phase,
            store=store,
            found=int(found),
            acted=int(acted),
            exempted=int(exempted),
            details=dict(details or {}),
            recorded_at=datetime.now(UTC),
            run_id=run_id,
        )
    )


def store_results(connection: sa.Connection, request_id: str) -> dict[str, dict[str, dict]]:
    """phase -> store -> {found, acted, exempted, details}."""
    rows = connection.execute(
        sa.select(dsar_store_results).where(dsar_store_results.c.request_id == request_id)
    ).mappings()
    results: dict[str, dict[str, dict]] = {}
    for row in rows:
        results.setdefault(row["phase"], {})[row["store"]] = {
            "found": row["found"],
            "acted": row["acted"],
            "exempted": row["exempted"],
            "details": row["details"],
        }
    return results


# ---------------------------------------------------------------- status and SLA


def tenant_today(timezone: str, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


def request_status(
    connection: sa.Connection, request_id: str, *, tenant: Tenant, now: datetime | None = None
) -> dict[str, Any]:
    """What ``cm dsar status`` shows: ids, dates, counts and object paths only."""
    record = load_request(connection, request_id)
    today = tenant_today(tenant.timezone, now)
    export = (
        connection.execute(
            sa.select(
                dsar_exports.c.object_path, dsar_exports.c.expires_at, dsar_exports.c.deleted_at
            )
            .where(dsar_exports.c.request_id == request_id)
            .order_by(dsar_exports.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    certificate = connection.execute(
        sa.select(dsar_certificates.c.object_path, dsar_certificates.c.sha256).where(
            dsar_certificates.c.request_id == request_id
        )
    ).first()
    due = record.effective_due_date
    status: dict[str, Any] = {
        "request_id": record.request_id,
        "tenant_id": record.tenant_id,
        "type": record.request_type,
        "jurisdiction": record.jurisdiction,
        "state": record.state,
        "received_on": record.received_on.isoformat(),
        "due_date": record.due_date.isoformat(),
        "extended_due_date": record.extended_due_date.isoformat()
        if record.extended_due_date
        else None,
        "ack_due_date": record.ack_due_date.isoformat() if record.ack_due_date else None,
        "days_left": dsar_clock.days_left(due, today) if record.is_open else None,
        "overdue": record.is_open and dsar_clock.is_overdue(due, today),
        "verified": record.verified_at is not None,
        "verification_method": record.verification_method,
        "identifier_kinds": dict(Counter(h["kind"] for h in record.identifier_hashes)),
        "store_results": store_results(connection, request_id),
        "package_path": None,
        "package_expires_at": None,
        "certificate_path": certificate[0] if certificate else None,
        "certificate_sha256": certificate[1] if certificate else None,
    }
    if export is not None and export["deleted_at"] is None:
        status["package_path"] = export["object_path"]
        status["package_expires_at"] = _utc(export["expires_at"]).isoformat()  # type: ignore[union-attr]
    return status


def open_requests(connection: sa.Connection) -> list[RequestRecord]:
    rows = connection.execute(
        sa.select(dsar_requests)
        .where(dsar_requests.c.state.in_(OPEN_STATES))
        .order_by(dsar_requests.c.received_at)
    ).mappings()
    return [_record(row) for row in rows]


def verified_requests(connection: sa.Connection, limit: int = 100) -> list[tuple[str, str, str]]:
    """(request id, tenant id, type) of verified requests waiting for a run, oldest first."""
    rows = connection.execute(
        sa.select(
            dsar_requests.c.request_id, dsar_requests.c.tenant_id, dsar_requests.c.request_type
        )
        .where(dsar_requests.c.state == "verified")
        .order_by(dsar_requests.c.received_at)
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in rows]
