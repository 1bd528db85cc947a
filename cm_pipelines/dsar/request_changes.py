"""Every change to a stored request: intake, verification, extension, claim and state.

All three doors (``cm dsar submit``, the launchpad run config, the sensor's source) write through
``submit_request``; every change appends an audit entry with ids, counts and hashes only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import clock as dsar_clock
from cm_pipelines.domain.dsar.requests import (
    Identifier,
    Rectification,
    ValidatedRequest,
    new_request_id,
)
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.request_records import DsarError, RequestRecord, load_request
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables.dsar import dsar_requests

ACTOR_PIPELINE = "dsar_fulfillment_job"


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
            "time_zone": tenant.timezone,
            "received_on": received_on.isoformat(),
            "due_date": clock.due_date.isoformat(),
            "rectification_fields": sorted(request.rectification.as_dict()),
        },
        run_id=run_id,
    )
    return request_id


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
        details={
            "time_zone": tenant_time_zone(connection, record.tenant_id),
            "extended_due_date": new_due.isoformat(),
            "reason_chars": len(cleaned),
        },
    )
    return load_request(connection, request_id)


def tenant_time_zone(connection: sa.Connection, tenant_id: str) -> str:
    """The zone a tenant's request dates are days of (UTC for a tenant not synced yet)."""
    zone = connection.execute(
        sa.select(call_tables.tenants.c.timezone).where(
            call_tables.tenants.c.tenant_id == tenant_id
        )
    ).scalar()
    return str(zone) if zone else "UTC"


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
    """Once a request is done it keeps only its identifiers' keyed hashes (and no rectified
    values): its evidence needs to say who it was about, never to name them."""
    _update(
        connection,
        request_id,
        now,
        identifiers=[],
        rectification=None,
        identifiers_erased_at=now,
    )


def forget_subject_in_other_requests(
    connection: sa.Connection,
    *,
    tenant_id: str,
    request_id: str,
    subject_hashes: set[str],
    key: bytes,
    now: datetime,
) -> int:
    """An erased subject's raw identifiers leave the tenant's other requests too (their keyed
    hashes stay, so the evidence still says whom each request was about); returns how many
    requests changed. Rectified values of a request about the subject go with them."""
    rows = connection.execute(
        sa.select(dsar_requests.c.request_id, dsar_requests.c.identifiers).where(
            dsar_requests.c.tenant_id == tenant_id,
            dsar_requests.c.request_id != request_id,
        )
    ).all()
    changed = 0
    for other_id, identifiers in rows:
        kept = [
            item
            for item in identifiers or []
            if identifier_hashes((Identifier.from_dict(item),), key)[0]["hash"]
            not in subject_hashes
        ]
        if len(kept) == len(identifiers or []):
            continue
        values: dict[str, Any] = {"identifiers": kept}
        if not kept:
            values.update(rectification=None, identifiers_erased_at=now)
        _update(connection, other_id, now, **values)
        changed += 1
    return changed
