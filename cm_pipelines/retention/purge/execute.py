"""Execute: one batch at a time, objects first, then rows.

Each batch is marked ``deleting``, its objects deleted and each confirmed gone
(``resources.object_purge``), then in one transaction the rows are marked purged
(``purge.marking``), tombstones written and each item's outcome recorded. An object that refuses
deletion keeps its row live and is reported.

Killed anywhere and run again, a plan finishes as planned: items already purged are never
touched again (their status, ``deleted_at IS NULL`` guards and a unique tombstone per artefact),
an object deleted before the kill is found absent and its row is then marked. A legal hold
placed while the purge runs withdraws what it covers before the next batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.resources import object_purge
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.current_states import today_utc
from cm_pipelines.retention.inventory.frames import fetch_frame
from cm_pipelines.retention.inventory.legal_holds import load_holds
from cm_pipelines.retention.purge.claims import (
    ClaimPolicy,
    PurgeBusy,
    release_claim,
    renew_claim,
    take_claim,
)
from cm_pipelines.retention.purge.files_in_use import withdraw_files_still_in_use
from cm_pipelines.retention.purge.guard import revalidate
from cm_pipelines.retention.purge.marking import mark_rows
from cm_pipelines.retention.purge.plan_records import (
    PENDING_ITEM_STATES,
    STARTED_PLAN_STATES,
    PurgeRefused,
    set_items,
    set_plan,
)
from cm_pipelines.tables.retention import purge_batches, purge_plan_items, retention_tombstones


@dataclass
class ExecutionOutcome:
    plan_id: str
    batches_run: int = 0
    rows_purged: int = 0
    objects_deleted: int = 0
    already_gone: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    withdrawn: Counter[str] = field(default_factory=Counter)
    by_record_type: Counter[str] = field(default_factory=Counter)


def execute_plan(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    plan_id: str,
    *,
    run_id: str,
    hash_key: bytes,
    log: Callable[[str], None] = lambda _message: None,
    claims: ClaimPolicy | None = None,
) -> ExecutionOutcome:
    """Run every unfinished batch of an approved plan; per-object failures are recorded.

    Refuses (``PurgeBusy``) while another run holds the plan, and stops before the next batch
    when its own claim was taken over; any other failure releases the claim so the next run
    can resume at once."""
    scope, batch_numbers = _start_execution(warehouse, plan_id, run_id, claims or ClaimPolicy())
    outcome = ExecutionOutcome(plan_id)
    try:
        known_holds = _active_hold_ids(warehouse)
        for batch_no in batch_numbers:
            current_holds = _active_hold_ids(warehouse)
            if current_holds - known_holds:
                withdrawn = revalidate(
                    warehouse, plan_id, as_of=today_utc(), hash_key=hash_key, run_id=run_id
                )
                outcome.withdrawn.update(withdrawn)
                if withdrawn:
                    log(
                        f"new legal hold(s) during the purge: {sum(withdrawn.values())} "
                        "item(s) withdrawn"
                    )
            known_holds = current_holds
            _run_batch(warehouse, store, plan_id, scope, batch_no, run_id, outcome)
            outcome.batches_run += 1
    except PurgeBusy:
        raise  # the claim is another run's now: not ours to release
    except BaseException:
        release_claim(warehouse, plan_id, run_id)
        raise
    return outcome


def _start_execution(
    warehouse: WarehouseResource, plan_id: str, run_id: str, claims: ClaimPolicy
) -> tuple[str | None, list[int]]:
    """Claim the approved plan, mark it ``executing``; returns its scope and unfinished
    batches."""
    with warehouse.begin() as connection:
        plan = take_claim(connection, plan_id, run_id, claims)
        if plan["status"] not in STARTED_PLAN_STATES:
            raise PurgeRefused(
                f"purge plan {plan_id} is {plan['status']}: only an approved plan is executed"
            )
        set_plan(connection, plan_id, status="executing", last_run_id=run_id)
        batch_numbers = [
            int(row[0])
            for row in connection.execute(
                sa.select(purge_batches.c.batch_no)
                .where(purge_batches.c.plan_id == plan_id, purge_batches.c.status != "done")
                .order_by(purge_batches.c.batch_no)
            )
        ]
    return plan["scope_tenant_id"], batch_numbers


def _active_hold_ids(warehouse: WarehouseResource) -> set[str]:
    with warehouse.connect() as connection:
        return {str(hold["hold_id"]) for hold in load_holds(connection)}


def _batch_items(connection: sa.Connection, plan_id: str, batch_no: int) -> pd.DataFrame:
    t = purge_plan_items
    columns = [
        "item_no",
        "tenant_id",
        "record_type",
        "artefact_id",
        "object_path",
        "object_sha256",
        "policy_version",
    ]
    query = sa.select(*[t.c[name] for name in columns]).where(
        t.c.plan_id == plan_id, t.c.batch_no == batch_no, t.c.status.in_(PENDING_ITEM_STATES)
    )
    return fetch_frame(connection, query, columns)


def _run_batch(
    warehouse: WarehouseResource,
    store: ObjectStoreResource,
    plan_id: str,
    scope: str | None,
    batch_no: int,
    run_id: str,
    outcome: ExecutionOutcome,
) -> None:
    items = _open_batch(warehouse, plan_id, scope, batch_no, run_id, outcome)
    paths = items["object_path"].dropna().astype(str).tolist()
    deletion = object_purge.purge_objects(store, paths) if paths else object_purge.PurgeOutcome()
    _close_batch(warehouse, plan_id, batch_no, run_id, items, deletion, outcome)


def _open_batch(
    warehouse: WarehouseResource,
    plan_id: str,
    scope: str | None,
    batch_no: int,
    run_id: str,
    outcome: ExecutionOutcome,
) -> pd.DataFrame:
    """Renew the claim, withdraw landing files still in use, mark the batch ``deleting``;
    returns its open items."""
    with warehouse.begin() as connection:
        renew_claim(connection, plan_id, scope, run_id, batch_no)
        items = _batch_items(connection, plan_id, batch_no)
        items, withdrawn = withdraw_files_still_in_use(connection, plan_id, items, run_id)
        if withdrawn:
            outcome.withdrawn["sources_live"] += withdrawn
        connection.execute(
            sa.update(purge_batches)
            .where(purge_batches.c.plan_id == plan_id, purge_batches.c.batch_no == batch_no)
            .values(status="deleting", started_at=datetime.now(UTC), run_id=run_id)
        )
    return items


def _close_batch(
    warehouse: WarehouseResource,
    plan_id: str,
    batch_no: int,
    run_id: str,
    items: pd.DataFrame,
    deletion: object_purge.PurgeOutcome,
    outcome: ExecutionOutcome,
) -> None:
    """In one transaction: mark the rows whose objects are gone and tombstone them, record
    every item's outcome and close the batch."""
    failed_paths = deletion.failed
    object_failed = items["object_path"].isin(list(failed_paths)).to_numpy()
    ready = items.loc[~object_failed]
    refused = items.loc[object_failed]
    now = datetime.now(UTC)
    with warehouse.begin() as connection:
        purged, gone = _mark_and_tombstone(connection, plan_id, run_id, ready, now)
        # Exceptions first (few), then every other open item of the batch with one predicate.
        for path_code, group in refused.groupby(refused["object_path"].map(failed_paths)):
            set_items(
                connection,
                plan_id,
                group["item_no"].tolist(),
                status="failed",
                detail=str(path_code)[:64],
                now=now,
                run_id=run_id,
            )
        set_items(
            connection,
            plan_id,
            gone["item_no"].tolist(),
            status="already_gone",
            detail="row_not_live",
            now=now,
            run_id=run_id,
        )
        if not purged.empty:
            connection.execute(
                sa.update(purge_plan_items)
                .where(
                    purge_plan_items.c.plan_id == plan_id,
                    purge_plan_items.c.batch_no == batch_no,
                    purge_plan_items.c.status.in_(PENDING_ITEM_STATES),
                    purge_plan_items.c.item_no.not_in([int(n) for n in refused["item_no"]] or [-1]),
                )
                .values(status="purged", detail=None, done_at=now, done_run_id=run_id)
            )
        connection.execute(
            sa.update(purge_batches)
            .where(purge_batches.c.plan_id == plan_id, purge_batches.c.batch_no == batch_no)
            .values(
                status="done_with_failures" if len(refused) else "done",
                objects_deleted=len(deletion.gone),
                objects_failed=len(refused),
                rows_purged=len(purged),
                finished_at=now,
                run_id=run_id,
            )
        )
    outcome.rows_purged += len(purged)
    outcome.objects_deleted += int(purged["object_path"].notna().sum())
    outcome.already_gone += len(gone)
    outcome.failed.update(str(failed_paths[path]) for path in refused["object_path"])
    outcome.by_record_type.update(purged["record_type"].astype(str).tolist())


def _mark_and_tombstone(
    connection: sa.Connection, plan_id: str, run_id: str, ready: pd.DataFrame, now: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mark the live rows of ``ready`` purged and write their tombstones; returns (purged, gone):
    the items marked now and those whose row was no longer live."""
    marked: list[str] = []
    for record_type, group in ready.groupby("record_type"):
        marked.extend(
            f"{record_type}\x1f{artefact_id}"
            for artefact_id in mark_rows(connection, str(record_type), group, now)
        )
    keys = ready["record_type"].astype(str) + "\x1f" + ready["artefact_id"].astype(str)
    is_marked = keys.isin(marked).to_numpy(dtype=bool)
    purged = ready.loc[is_marked]
    gone = ready.loc[~is_marked]
    if not purged.empty:
        bulk_insert(
            connection,
            retention_tombstones,
            pd.DataFrame(
                {
                    "tenant_id": purged["tenant_id"].to_numpy(),
                    "record_type": purged["record_type"].to_numpy(),
                    "artefact_id": purged["artefact_id"].to_numpy(),
                    "object_sha256": purged["object_sha256"].to_numpy(),
                    "deleted_at": now,
                    "policy_version": purged["policy_version"].to_numpy(),
                    "plan_id": plan_id,
                    "run_id": run_id,
                }
            ),
        )
    return purged, gone
