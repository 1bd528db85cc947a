"""The operator's decisions on a stored request: refuse it, acknowledge its receipt, lift the
restriction it put in place. Each is one transaction with its audit entry (ids, codes and
counts; a free-text note is counted, never copied into the audit log).

The rules (which state allows what) are ``cm_pipelines.domain.dsar.operator``; this module
reads the request, applies them and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from cm_pipelines.domain.dsar import operator
from cm_pipelines.domain.dsar.planning import MARK_RESTRICTED
from cm_pipelines.dsar.fulfil.restrict import RESTRICTABLE
from cm_pipelines.dsar.fulfil.tenant_rows import chunks
from cm_pipelines.dsar.request_records import DsarError, RequestRecord, load_request
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables.dsar import (
    dsar_erasure_outbox,
    dsar_plan_items,
    dsar_requests,
    restrictions,
)


def _refused(exc: operator.DecisionRefused) -> DsarError:
    return DsarError(str(exc))


def _column(connection: sa.Connection, request_id: str, column: sa.Column):
    return connection.execute(
        sa.select(column).where(dsar_requests.c.request_id == request_id)
    ).scalar_one()


def refuse_request(
    connection: sa.Connection,
    request_id: str,
    *,
    code: str,
    note: str | None,
    refused_by: str,
    now: datetime | None = None,
) -> RequestRecord:
    """An open, not yet started request -> ``refused`` with its reason code (Art. 12(4): the
    requester is told why and that they may complain; that letter is the operator's)."""
    now = now or datetime.now(UTC)
    record = load_request(connection, request_id)
    try:
        cleaned = operator.check_refusal(request_id, record.state, code, note)
    except operator.DecisionRefused as exc:
        raise _refused(exc) from None
    changed = connection.execute(
        sa.update(dsar_requests)
        .where(dsar_requests.c.request_id == request_id, dsar_requests.c.state == record.state)
        .values(
            state="refused",
            refusal_code=code,
            refusal_reason=cleaned or None,
            refused_at=now,
            refused_by=refused_by,
            updated_at=now,
        )
    )
    if changed.rowcount != 1:  # a run claimed it between the read and the update
        raise DsarError(f"request {request_id} changed meanwhile; look again (cm dsar list)")
    append_audit(
        connection,
        actor=refused_by,
        action="dsar.refuse",
        tenant_id=record.tenant_id,
        object_refs={"request_id": request_id},
        details={"code": code, "from_state": record.state, "note_chars": len(cleaned)},
    )
    return load_request(connection, request_id)


def acknowledge_request(
    connection: sa.Connection,
    request_id: str,
    *,
    acknowledged_by: str,
    on: date,
    now: datetime | None = None,
) -> tuple[RequestRecord, str]:
    """Record that receipt was acknowledged on ``on`` (tenant-local day); returns the record and
    the acknowledgement's status (on time, late, or not required by the jurisdiction)."""
    now = now or datetime.now(UTC)
    record = load_request(connection, request_id)
    already = _column(connection, request_id, dsar_requests.c.acknowledged_on)
    try:
        operator.check_acknowledgement(request_id, record.state, record.received_on, already, on)
    except operator.DecisionRefused as exc:
        raise _refused(exc) from None
    connection.execute(
        sa.update(dsar_requests)
        .where(dsar_requests.c.request_id == request_id)
        .values(acknowledged_on=on, acknowledged_at=now, acknowledged_by=acknowledged_by)
    )
    status = operator.acknowledgement_status(record.ack_due_date, on, on)
    append_audit(
        connection,
        actor=acknowledged_by,
        action="dsar.acknowledge",
        tenant_id=record.tenant_id,
        object_refs={"request_id": request_id},
        details={
            "acknowledged_on": on.isoformat(),
            "ack_due_date": record.ack_due_date.isoformat() if record.ack_due_date else None,
            "status": status,
        },
    )
    return record, status


@dataclass(frozen=True)
class LiftOutcome:
    entries_lifted: int
    records_released: dict[str, int]
    still_restricted: int
    crm_tasks_withdrawn: int
    crm_tasks_already_sent: int


def lift_restriction(
    connection: sa.Connection,
    request_id: str,
    *,
    reason: str,
    subject_informed: bool,
    lifted_by: str,
    now: datetime | None = None,
) -> LiftOutcome:
    """End the restriction a completed restriction request put in place: its entries on the
    restriction list are lifted and the records it marked are processed again, except those
    another restriction still in force also covers. CRM tasks not yet sent are withdrawn."""
    now = now or datetime.now(UTC)
    record = load_request(connection, request_id)
    cleaned = " ".join((reason or "").split())
    if not cleaned or len(cleaned) > operator.MAX_NOTE:
        raise DsarError(f"--reason is required, at most {operator.MAX_NOTE} characters")
    mine = sa.and_(
        restrictions.c.tenant_id == record.tenant_id,
        restrictions.c.dsar_request_id == request_id,
        restrictions.c.lifted_at.is_(None),
    )
    active = int(
        connection.execute(
            sa.select(sa.func.count()).select_from(restrictions).where(mine)
        ).scalar_one()
    )
    try:
        operator.check_lift(request_id, record.request_type, record.state, active, subject_informed)
    except operator.DecisionRefused as exc:
        raise _refused(exc) from None
    connection.execute(sa.update(restrictions).where(mine).values(lifted_at=now))
    released, kept = _release_records(connection, record)
    withdrawn, sent = _withdraw_crm_tasks(connection, request_id)
    connection.execute(
        sa.update(dsar_requests)
        .where(dsar_requests.c.request_id == request_id)
        .values(
            restriction_lifted_at=now,
            restriction_lifted_by=lifted_by,
            lift_reason=cleaned,
            updated_at=now,
        )
    )
    outcome = LiftOutcome(active, released, kept, withdrawn, sent)
    append_audit(
        connection,
        actor=lifted_by,
        action="dsar.restriction.lift",
        tenant_id=record.tenant_id,
        object_refs={"request_id": request_id},
        details={
            "entries_lifted": active,
            "records_released": released,
            "still_restricted_by_other_requests": kept,
            "crm_tasks_withdrawn": withdrawn,
            "crm_tasks_already_sent": sent,
            "subject_informed": True,
            "reason_chars": len(cleaned),
        },
    )
    return outcome


def _refs_by_store(connection: sa.Connection, request_ids: list[str]) -> dict[str, set[str]]:
    refs: dict[str, set[str]] = {}
    for chunk in chunks(request_ids):
        rows = connection.execute(
            sa.select(dsar_plan_items.c.store, dsar_plan_items.c.item_ref).where(
                dsar_plan_items.c.request_id.in_(chunk),
                dsar_plan_items.c.action == MARK_RESTRICTED,
                dsar_plan_items.c.executed_at.is_not(None),
            )
        )
        for store, ref in rows:
            refs.setdefault(store, set()).add(ref)
    return refs


def _release_records(
    connection: sa.Connection, record: RequestRecord
) -> tuple[dict[str, int], int]:
    """Clear ``restricted_at`` on what this request marked and no restriction in force covers."""
    in_force = [
        row[0]
        for row in connection.execute(
            sa.select(restrictions.c.dsar_request_id)
            .where(
                restrictions.c.tenant_id == record.tenant_id,
                restrictions.c.lifted_at.is_(None),
                restrictions.c.dsar_request_id.is_not(None),
            )
            .distinct()
        )
    ]
    others = _refs_by_store(connection, in_force)
    released: dict[str, int] = {}
    kept = 0
    for store, refs in _refs_by_store(connection, [record.request_id]).items():
        if store not in RESTRICTABLE:
            continue
        table, column, cast = RESTRICTABLE[store]
        free = sorted(refs - others.get(store, set()))
        kept += len(refs) - len(free)
        count = 0
        for chunk in chunks([cast(ref) for ref in free]):
            count += connection.execute(
                sa.update(table)
                .where(table.c.tenant_id == record.tenant_id, column.in_(chunk))
                .where(table.c.restricted_at.is_not(None))
                .values(restricted_at=None)
            ).rowcount
        released[store] = count
    return released, kept


def _withdraw_crm_tasks(connection: sa.Connection, request_id: str) -> tuple[int, int]:
    """Restrict tasks still pending are withdrawn; sent ones are counted for the operator. A
    pending task delivery already attempted (``attempts`` > 0) may have reached the CRM: it is
    withdrawn too (no more retries) but counted as sent, so the operator follows it up."""
    outbox = dsar_erasure_outbox
    pending = sa.and_(outbox.c.request_id == request_id, outbox.c.status == "pending")
    attempted = int(
        connection.execute(
            sa.select(sa.func.count()).select_from(outbox).where(pending, outbox.c.attempts > 0)
        ).scalar_one()
    )
    withdrawn = connection.execute(
        sa.update(outbox).where(pending).values(status="withdrawn")
    ).rowcount
    sent = int(
        connection.execute(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.request_id == request_id, outbox.c.status.in_(("sent", "confirmed")))
        ).scalar_one()
    )
    return withdrawn - attempted, sent + attempted
