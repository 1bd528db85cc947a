"""Prove: verify the deleted objects are absent, write the proof-of-deletion manifest under
``audit/retention/proofs/``, close the plan and append an audit entry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.digests import canonical_json
from cm_pipelines.domain.retention.proof import proof_document
from cm_pipelines.platform import landing
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources import object_purge
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.inventory.frames import fetch_frame
from cm_pipelines.retention.policy_versions import SYSTEM_ACTOR
from cm_pipelines.retention.purge.claims import NO_CLAIM, ClaimPolicy, release_claim, take_claim
from cm_pipelines.retention.purge.plan_records import plan_items_frame, plan_row, set_plan
from cm_pipelines.tables.retention import purge_batches, retention_tombstones

PROOFS_PREFIX = f"{landing.AUDIT}/retention/proofs"


@dataclass
class ProofOutcome:
    plan_id: str
    path: str
    sha256: str
    document: dict[str, Any]
    status: str


def _tombstones_frame(connection: sa.Connection, plan_id: str) -> pd.DataFrame:
    t = retention_tombstones
    columns = ["tenant_id", "record_type", "artefact_id", "object_sha256", "policy_version"]
    query = sa.select(*[t.c[name] for name in columns]).where(t.c.plan_id == plan_id)
    return fetch_frame(connection, query, columns)


def prove_plan(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    plan_id: str,
    *,
    run_id: str,
    actor: str = SYSTEM_ACTOR,
    claims: ClaimPolicy | None = None,
) -> ProofOutcome:
    """Verify, write the proof-of-deletion manifest and close the plan (with failures if any)."""
    with warehouse.begin() as connection:
        take_claim(connection, plan_id, run_id, claims or ClaimPolicy())
    try:
        return _prove(warehouse, store, plan_id, run_id, actor)
    except BaseException:
        release_claim(warehouse, plan_id, run_id)
        raise


def _prove(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    plan_id: str,
    run_id: str,
    actor: str,
) -> ProofOutcome:
    plan, items, tombstones, batch_runs = _read_evidence(warehouse, plan_id)
    deleted_paths = (
        items.loc[(items["status"] == "purged") & items["object_path"].notna(), "object_path"]
        .astype(str)
        .tolist()
        if not items.empty
        else []
    )
    left = object_purge.still_present(store, deleted_paths) if deleted_paths else []
    run_ids = [*batch_runs, *items["done_run_id"].dropna().astype(str).tolist()]
    proved_at = datetime.now(UTC)
    document = proof_document(
        plan,
        items,
        tombstones,
        objects_verified_absent=len(deleted_paths) - len(left),
        objects_still_present=len(left),
        run_ids=run_ids,
        proof_run_id=run_id,
        proved_at=proved_at.isoformat(),
    )
    data = canonical_json(document)
    path = f"{PROOFS_PREFIX}/{plan_id}.json"
    store.write_bytes(path, data)
    sha = hashlib.sha256(data).hexdigest()
    totals = document["totals"]
    clean = totals["failed"] == 0 and totals["pending"] == 0 and not left
    status = "completed" if clean else "completed_with_failures"
    with warehouse.begin() as connection:
        _close_plan(connection, plan_id, run_id, actor, status, path, sha, proved_at, document)
    return ProofOutcome(plan_id, path, sha, document, status)


def _read_evidence(
    warehouse: WarehouseResource, plan_id: str
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, list[str]]:
    """The plan, its items with their final status, its tombstones and the runs of its
    batches."""
    with warehouse.connect() as connection:
        plan = plan_row(connection, plan_id)
        items = plan_items_frame(connection, plan_id)
        tombstones = _tombstones_frame(connection, plan_id)
        batch_runs = [
            str(row[0])
            for row in connection.execute(
                sa.select(purge_batches.c.run_id).where(
                    purge_batches.c.plan_id == plan_id, purge_batches.c.run_id.is_not(None)
                )
            )
        ]
    return plan, items, tombstones, batch_runs


def _close_plan(
    connection: sa.Connection,
    plan_id: str,
    run_id: str,
    actor: str,
    status: str,
    path: str,
    sha: str,
    proved_at: datetime,
    document: dict[str, Any],
) -> None:
    """Close the plan with its proof (claim released) and audit the completion."""
    totals = document["totals"]
    set_plan(
        connection,
        plan_id,
        status=status,
        proof_path=path,
        proof_sha256=sha,
        completed_at=proved_at,
        last_run_id=run_id,
        **NO_CLAIM,
    )
    append_audit(
        connection,
        actor=actor,
        action="retention.purge_completed",
        object_refs={"plan_id": plan_id, "proof_path": path, "proof_sha256": sha},
        details={
            "status": status,
            "totals": totals,
            "tombstones_sha256": document["tombstones_sha256"],
            "plan_items_sha256": document["plan_items_sha256"],
        },
        run_id=run_id,
    )
