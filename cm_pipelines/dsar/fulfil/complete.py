"""The last step of every request: where its result is (certificate of an erasure, package of
an access request), state ``completed``. A completed request keeps only its identifiers' keyed
hashes; an erasure also takes the subject's raw identifiers out of the tenant's other requests.
Its dates are days of the tenant's zone, stated beside them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar.clock import local_day
from cm_pipelines.dsar import key_handoff
from cm_pipelines.dsar.fulfil import step_log
from cm_pipelines.dsar.fulfil.context import FulfilmentContext, FulfilmentError
from cm_pipelines.dsar.fulfil.erase_certificate import record_certificate, write_certificate
from cm_pipelines.dsar.request_changes import (
    erase_request_identifiers,
    forget_subject_in_other_requests,
    set_state,
)
from cm_pipelines.tables.dsar import dsar_exports


def complete(fulfilment: FulfilmentContext) -> dict[str, Any]:
    done = step_log.resumed_past(fulfilment, "complete")
    if done is not None:
        fulfilment.report.result_path = done.get("result_path")
        return done
    record = fulfilment.record()
    now = fulfilment.clock()
    result_path = fulfilment.report.result_path
    certificate = None
    if record.request_type == "erasure":
        certificate = write_certificate(fulfilment, record, now)
        result_path = certificate.path
    elif record.request_type in ("access", "portability"):
        result_path = _latest_package_path(fulfilment)
        _release_held_key(fulfilment)
    details: dict[str, Any] = {
        "result_path": result_path,
        "type": record.request_type,
        "time_zone": fulfilment.tenant.timezone,
        "completed_on": local_day(now, fulfilment.tenant.timezone).isoformat(),
    }
    with fulfilment.warehouse.begin() as connection:
        if certificate is not None:
            record_certificate(fulfilment, connection, certificate, now)
            details["certificate_sha256"] = certificate.sha256
            details["other_requests_minimised"] = forget_subject_in_other_requests(
                connection,
                tenant_id=fulfilment.tenant.id,
                request_id=fulfilment.request_id,
                subject_hashes={h["hash"] for h in record.identifier_hashes},
                key=fulfilment.hash_key,
                now=now,
            )
        erase_request_identifiers(connection, fulfilment.request_id, now)
        set_state(
            connection,
            fulfilment.request_id,
            "completed",
            run_id=fulfilment.run_id,
            now=now,
            completed_at=now,
            result_path=result_path,
        )
        step_log.finish(fulfilment, connection, "complete", details)
    fulfilment.report.result_path = result_path
    return details


def _latest_package_path(fulfilment: FulfilmentContext) -> str | None:
    with fulfilment.warehouse.connect() as connection:
        return connection.execute(
            sa.select(dsar_exports.c.object_path)
            .where(dsar_exports.c.request_id == fulfilment.request_id)
            .order_by(dsar_exports.c.id.desc())
            .limit(1)
        ).scalar()


def _release_held_key(fulfilment: FulfilmentContext) -> None:
    """A reviewed package's key was held until now: handed over as any other key. A held key
    that is not here (a 0600 held file on the machine that built the package) stops the
    completion rather than completing a package nobody could open."""
    with fulfilment.warehouse.connect() as connection:
        export = step_log.step_done(connection, fulfilment.request_id, "export") or {}
    if export.get("key_delivery") != key_handoff.HELD:
        return
    released = key_handoff.release_held_key(fulfilment.request_id, fulfilment.object_store)
    if released is None:
        raise FulfilmentError(
            f"the held key of request {fulfilment.request_id} is not on this machine: finish "
            f"the approved request with cm dsar run {fulfilment.request_id} on the machine that "
            "built its package (set CM_DSAR_KEY_RECIPIENT to seal held keys to the object store)"
        )
    fulfilment.report.key_delivery = released
