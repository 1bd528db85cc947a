"""The certificate of a completed erasure: what was located, done, exempted and verified, by
store and count, with the identifiers' keyed hashes and the downstream recipients (those that
confirmed listed as ``downstream_confirmed``), kept as an object under the audit prefix and as a
row (body and hash)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.crm_delivery.certificate import with_confirmations
from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.clock import evidence_dates
from cm_pipelines.domain.dsar.export_package import sha256_hex
from cm_pipelines.dsar.fulfil import plan_items, step_log
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.crm_outbox import confirmed_deliveries, outbox_recipients
from cm_pipelines.dsar.request_records import RequestRecord
from cm_pipelines.platform import landing
from cm_pipelines.tables.dsar import dsar_certificates


@dataclass(frozen=True)
class WrittenCertificate:
    path: str
    sha256: str
    body: dict[str, Any]


def certificate_path(fulfilment: FulfilmentContext) -> str:
    return (
        f"{landing.AUDIT}/dsar/{fulfilment.tenant.id}/{fulfilment.request_id}"
        "/erasure_certificate.json"
    )


def write_certificate(
    fulfilment: FulfilmentContext, record: RequestRecord, now: datetime
) -> WrittenCertificate:
    """Build the certificate and write it to the object store (rewritten by a re-run)."""
    body = _certificate(fulfilment, record, now)
    data = json.dumps(body, indent=2, sort_keys=True).encode("utf-8")
    path = certificate_path(fulfilment)
    fulfilment.object_store.write_bytes(path, data)
    return WrittenCertificate(path, sha256_hex(data), body)


def record_certificate(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    certificate: WrittenCertificate,
    now: datetime,
) -> None:
    """The certificate's row, replacing any earlier one of the request."""
    connection.execute(
        sa.delete(dsar_certificates).where(dsar_certificates.c.request_id == fulfilment.request_id)
    )
    connection.execute(
        sa.insert(dsar_certificates).values(
            request_id=fulfilment.request_id,
            tenant_id=fulfilment.tenant.id,
            object_path=certificate.path,
            sha256=certificate.sha256,
            body=certificate.body,
            created_at=now,
            run_id=fulfilment.run_id,
        )
    )


def _certificate(
    fulfilment: FulfilmentContext, record: RequestRecord, completed_at: datetime
) -> dict[str, Any]:
    with fulfilment.warehouse.connect() as connection:
        actions = plan_items.load_plan(fulfilment, connection)
        located = (step_log.step_done(connection, fulfilment.request_id, "locate") or {}).get(
            "located", {}
        )
        verified = step_log.step_done(connection, fulfilment.request_id, "verify") or {}
        recipients = outbox_recipients(fulfilment, connection)
        confirmed = confirmed_deliveries(fulfilment, connection)
    verification = planning.ErasureVerification(
        dict(verified.get("remaining_by_store", {})),
        dict(verified.get("unexpected_by_store", {})),
        dict(verified.get("failed_checks_by_store", {})),
    )
    body = planning.erasure_certificate(
        request_id=fulfilment.request_id,
        tenant_id=fulfilment.tenant.id,
        jurisdiction=record.jurisdiction,
        dates=evidence_dates(
            fulfilment.tenant.timezone,
            received_on=record.received_on,
            due_date=record.due_date,
            extended_due_date=record.extended_due_date,
            ack_due_date=record.ack_due_date,
            completed_at=completed_at,
        ),
        identifier_hashes=[h["hash"] for h in record.identifier_hashes],
        located=located,
        plan=actions,
        verification=verification,
        outbox_recipients=recipients,
    )
    # CRMs that confirmed before completion; crm_delivery amends the certificate for later ones
    return with_confirmations(body, confirmed) if confirmed else body
