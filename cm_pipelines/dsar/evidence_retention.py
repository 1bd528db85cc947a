"""Evidence of done requests has its own retention: kept ``CM_DSAR_EVIDENCE_YEARS`` from the
request's tenant-local completion day, then purged with a proof.

A done request (completed or refused) is evidence that the platform answered it: the request as
keyed hashes, its step log, plan, per-store results, outbox tasks, export records and erasure
certificate. Once its years are over all of it goes: the certificate object first (confirmed
gone), then the rows, in one transaction with an audit entry per request. A proof-of-purge
manifest (request ids, tenants, completion days, certificate hashes and row counts, no
identifier) is written under ``audit/dsar/evidence_purges/`` before anything is deleted, so a
purge killed midway is finished by the next run and the proof names it.

The erasure ledger is not purged with its request: it is what keeps an erased subject erased
when their data is delivered again, for as long as such data may arrive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from cm_pipelines.domain.dsar.clock import evidence_purge_on, local_day
from cm_pipelines.dsar.request_changes import tenant_time_zone
from cm_pipelines.platform import landing
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.object_purge import purge_objects
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables.dsar import (
    dsar_certificates,
    dsar_erasure_outbox,
    dsar_exports,
    dsar_plan_items,
    dsar_requests,
    dsar_steps,
    dsar_store_results,
)

DONE_STATES = ("completed", "refused")
EVIDENCE_TABLES: tuple[sa.Table, ...] = (
    dsar_steps,
    dsar_store_results,
    dsar_plan_items,
    dsar_erasure_outbox,
    dsar_exports,
    dsar_certificates,
    dsar_requests,
)


@dataclass
class EvidencePurge:
    """What one purge did: ids and counts only."""

    purged: list[str] = field(default_factory=list)
    rows_by_table: dict[str, int] = field(default_factory=dict)
    objects_deleted: int = 0
    manifest_path: str | None = None


def expired_requests(
    connection: sa.Connection, now: datetime, years: int
) -> list[dict[str, object]]:
    """Done requests whose evidence years are over, with the facts their proof states."""
    rows = connection.execute(
        sa.select(
            dsar_requests.c.request_id,
            dsar_requests.c.tenant_id,
            dsar_requests.c.request_type,
            dsar_requests.c.state,
            sa.func.coalesce(dsar_requests.c.completed_at, dsar_requests.c.updated_at).label(
                "done_at"
            ),
        ).where(dsar_requests.c.state.in_(DONE_STATES))
    ).mappings()
    zones: dict[str, str] = {}
    expired = []
    for row in rows:
        zone = zones.setdefault(row["tenant_id"], tenant_time_zone(connection, row["tenant_id"]))
        done_on = local_day(row["done_at"], zone)
        if local_day(now, zone) >= evidence_purge_on(done_on, years):
            certificate = connection.execute(
                sa.select(dsar_certificates.c.object_path, dsar_certificates.c.sha256).where(
                    dsar_certificates.c.request_id == row["request_id"]
                )
            ).first()
            expired.append(
                {
                    "request_id": row["request_id"],
                    "tenant_id": row["tenant_id"],
                    "type": row["request_type"],
                    "state": row["state"],
                    "time_zone": zone,
                    "done_on": done_on.isoformat(),
                    "certificate_path": certificate[0] if certificate else None,
                    "certificate_sha256": certificate[1] if certificate else None,
                }
            )
    return sorted(expired, key=lambda item: str(item["request_id"]))


def manifest_path(now: datetime) -> str:
    return f"{landing.AUDIT}/dsar/evidence_purges/{now.strftime('%Y%m%dT%H%M%SZ')}.json"


def purge_expired_evidence(
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    *,
    now: datetime,
    years: int,
    run_id: str | None = None,
) -> EvidencePurge:
    """Purge every done request whose evidence years are over; nothing due, nothing written."""
    outcome = EvidencePurge()
    with warehouse.connect() as connection:
        expired = expired_requests(connection, now, years)
    if not expired:
        return outcome
    outcome.manifest_path = manifest_path(now)
    proof = {
        "manifest": "cm-dsar-evidence-purge/1",
        "purged_at": now.isoformat(),
        "evidence_years": years,
        "requests": expired,
    }
    object_store.write_bytes(
        outcome.manifest_path, json.dumps(proof, indent=2, sort_keys=True).encode("utf-8")
    )
    paths = [str(item["certificate_path"]) for item in expired if item["certificate_path"]]
    deleted = purge_objects(object_store, paths)
    if deleted.failed:
        raise RuntimeError(
            f"{len(deleted.failed)} certificate object(s) could not be deleted; re-run to retry"
        )
    outcome.objects_deleted = len(deleted.gone)
    with warehouse.begin() as connection:
        for item in expired:
            _purge_request(connection, item, outcome, run_id)
    return outcome


def _purge_request(
    connection: sa.Connection, item: dict[str, object], outcome: EvidencePurge, run_id: str | None
) -> None:
    request_id = str(item["request_id"])
    counts: dict[str, int] = {}
    for table in EVIDENCE_TABLES:
        result = connection.execute(sa.delete(table).where(table.c.request_id == request_id))
        counts[table.name] = int(result.rowcount or 0)
        outcome.rows_by_table[table.name] = (
            outcome.rows_by_table.get(table.name, 0) + counts[table.name]
        )
    outcome.purged.append(request_id)
    append_audit(
        connection,
        actor="dsar_evidence_retention",
        action="dsar.evidence.purged",
        tenant_id=str(item["tenant_id"]),
        object_refs={"request_id": request_id, "manifest": outcome.manifest_path},
        details={
            "time_zone": item["time_zone"],
            "done_on": item["done_on"],
            "certificate_sha256": item["certificate_sha256"],
            "rows_by_table": counts,
        },
        run_id=run_id,
    )
