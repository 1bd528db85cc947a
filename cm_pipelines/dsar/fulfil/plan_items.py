"""The persisted plan of a request (``dsar_plan_items``): one planned action per located item.

``locate_and_plan`` stores it once; each execution step reads the actions it still has to run
and marks them executed in the transaction that holds their warehouse effect. That mark is what
a resumed run trusts: an action marked executed is never run again, one not marked is run again
(its object-store effects are idempotent). Exempt (``retain``) actions never run.

Steps call ``plan_items.mark_executed`` through the module, never a copy of the name: it is the
seam where the tests kill a run midway.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.planning import PlannedAction
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.tenant_rows import chunks
from cm_pipelines.tables.dsar import dsar_plan_items


def _planned_action(row: sa.RowMapping) -> PlannedAction:
    return PlannedAction(
        row["store"],
        row["item_ref"],
        row["action"],
        row["basis"],
        row["call_id"],
        row["details"].get("recipient"),
        dict(row["details"]),
    )


def load_plan(fulfilment: FulfilmentContext, connection: sa.Connection) -> list[PlannedAction]:
    rows = connection.execute(
        sa.select(dsar_plan_items).where(dsar_plan_items.c.request_id == fulfilment.request_id)
    ).mappings()
    return [_planned_action(row) for row in rows]


def pending(
    fulfilment: FulfilmentContext, connection: sa.Connection, store_name: str
) -> list[PlannedAction]:
    """Planned actions of one store that still have to run (exempt ones never run)."""
    rows = connection.execute(
        sa.select(dsar_plan_items).where(
            dsar_plan_items.c.request_id == fulfilment.request_id,
            dsar_plan_items.c.store == store_name,
            dsar_plan_items.c.executed_at.is_(None),
            dsar_plan_items.c.action != planning.RETAIN,
        )
    ).mappings()
    return [_planned_action(row) for row in rows]


def insert_plan(
    fulfilment: FulfilmentContext, connection: sa.Connection, actions: Sequence[PlannedAction]
) -> None:
    if not actions:
        return
    connection.execute(
        sa.insert(dsar_plan_items),
        [
            {
                "request_id": fulfilment.request_id,
                "store": action.store,
                "item_ref": action.ref,
                "tenant_id": fulfilment.tenant.id,
                "action": action.action,
                "basis": action.basis,
                "call_id": action.call_id,
                "details": {
                    **dict(action.details),
                    **({"recipient": action.recipient} if action.recipient else {}),
                },
                "executed_at": None,
                "run_id": fulfilment.run_id,
            }
            for action in actions
        ],
    )


def mark_executed(
    fulfilment: FulfilmentContext, connection: sa.Connection, actions: Iterable[PlannedAction]
) -> None:
    by_store: dict[str, list[str]] = defaultdict(list)
    for action in actions:
        by_store[action.store].append(action.ref)
    now = fulfilment.clock()
    for store_name, refs in by_store.items():
        for chunk in chunks(refs):
            connection.execute(
                sa.update(dsar_plan_items)
                .where(
                    dsar_plan_items.c.request_id == fulfilment.request_id,
                    dsar_plan_items.c.store == store_name,
                    dsar_plan_items.c.item_ref.in_(chunk),
                )
                .values(executed_at=now, run_id=fulfilment.run_id)
            )


def executed_count(
    fulfilment: FulfilmentContext, connection: sa.Connection, store_name: str
) -> int:
    """How many of one store's actions are marked executed, by this run or an earlier one."""
    return int(
        connection.execute(
            sa.select(sa.func.count())
            .select_from(dsar_plan_items)
            .where(
                dsar_plan_items.c.request_id == fulfilment.request_id,
                dsar_plan_items.c.store == store_name,
                dsar_plan_items.c.executed_at.is_not(None),
            )
        ).scalar_one()
    )


def executed_keys(fulfilment: FulfilmentContext, connection: sa.Connection) -> set[tuple[str, str]]:
    """(store, ref) of every action marked executed."""
    return {
        (row[0], row[1])
        for row in connection.execute(
            sa.select(dsar_plan_items.c.store, dsar_plan_items.c.item_ref).where(
                dsar_plan_items.c.request_id == fulfilment.request_id,
                dsar_plan_items.c.executed_at.is_not(None),
            )
        )
    }
