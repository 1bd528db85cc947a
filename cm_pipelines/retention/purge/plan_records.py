"""A purge plan's records in the warehouse: the plan row (``purge_plans``) and its items
(``purge_plan_items``), their states, read and updated by every step; and ``PurgeRefused``,
raised whenever a purge must not proceed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.inventory.frames import fetch_frame
from cm_pipelines.tables.retention import purge_plan_items, purge_plans

OPEN_PLAN_STATES = ("planning", "planned", "approved", "executing")
STARTED_PLAN_STATES = ("approved", "executing")
PENDING_ITEM_STATES = ("pending", "failed")


class PurgeRefused(RuntimeError):
    """The purge must not proceed (plan not approved, unknown tenant); the message says why."""


def plan_row(connection: sa.Connection, plan_id: str) -> dict[str, Any]:
    row = (
        connection.execute(sa.select(purge_plans).where(purge_plans.c.plan_id == plan_id))
        .mappings()
        .first()
    )
    if row is None:
        raise PurgeRefused(f"purge plan {plan_id} does not exist")
    return dict(row)


def plan_for_run(warehouse: WarehouseResource, run_id: str) -> dict[str, Any]:
    """The plan the plan step of ``run_id`` created or resumed."""
    with warehouse.connect() as connection:
        row = (
            connection.execute(sa.select(purge_plans).where(purge_plans.c.last_run_id == run_id))
            .mappings()
            .first()
        )
    if row is None:
        raise PurgeRefused(f"run {run_id} has no purge plan: the plan step did not run")
    return dict(row)


def set_plan(connection: sa.Connection, plan_id: str, **values: Any) -> None:
    connection.execute(
        sa.update(purge_plans)
        .where(purge_plans.c.plan_id == plan_id)
        .values(updated_at=datetime.now(UTC), **values)
    )


def plan_items_frame(
    connection: sa.Connection, plan_id: str, statuses: Sequence[str] | None = None
) -> pd.DataFrame:
    t = purge_plan_items
    columns = [
        "item_no",
        "batch_no",
        "tenant_id",
        "record_type",
        "artefact_id",
        "call_id",
        "object_path",
        "object_sha256",
        "policy_version",
        "status",
        "detail",
        "done_run_id",
    ]
    query = sa.select(*[t.c[name] for name in columns]).where(t.c.plan_id == plan_id)
    if statuses is not None:
        query = query.where(t.c.status.in_(list(statuses)))
    return fetch_frame(connection, query.order_by(t.c.item_no), columns)


def set_items(
    connection: sa.Connection,
    plan_id: str,
    item_numbers: Sequence[int],
    *,
    status: str,
    detail: str | None,
    now: datetime,
    run_id: str,
) -> None:
    if not len(item_numbers):
        return
    connection.execute(
        sa.update(purge_plan_items)
        .where(
            purge_plan_items.c.plan_id == plan_id,
            purge_plan_items.c.item_no.in_([int(n) for n in item_numbers]),
        )
        .values(status=status, detail=detail, done_at=now, done_run_id=run_id)
    )
