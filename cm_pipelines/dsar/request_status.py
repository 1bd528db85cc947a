"""What ``cm dsar status`` shows of a request: state, clock, per-store results, where its
package or certificate is. Ids, dates, counts and object paths only."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from cm_pipelines.domain.dsar import clock as dsar_clock
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.fulfil.step_log import step_done, store_results
from cm_pipelines.dsar.request_records import RequestRecord, as_utc, load_request
from cm_pipelines.tables.dsar import dsar_certificates, dsar_exports


def tenant_today(timezone: str, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


def record_dates(record: RequestRecord, timezone: str) -> dict[str, str | None]:
    """The request's dates, every one a day of the tenant's zone, which is stated with them."""
    return dsar_clock.evidence_dates(
        timezone,
        received_on=record.received_on,
        due_date=record.due_date,
        extended_due_date=record.extended_due_date,
        ack_due_date=record.ack_due_date,
        completed_at=record.completed_at,
    )


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
        **record_dates(record, tenant.timezone),
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
        "redaction": _redaction(connection, request_id),
    }
    if export is not None and export["deleted_at"] is None:
        status["package_path"] = export["object_path"]
        status["package_expires_at"] = as_utc(export["expires_at"]).isoformat()  # type: ignore[union-attr]
    return status


def _redaction(connection: sa.Connection, request_id: str) -> dict[str, Any] | None:
    """The package's names report (counts and positions of unsure masks, no text), if any."""
    details = step_done(connection, request_id, "export")
    names = details.get("names") if details else None
    return dict(names) if isinstance(names, dict) and names else None
