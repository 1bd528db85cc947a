"""The first step of every request: find the subject in every store of the tenant, decide what
to do with each record (exemptions included) and persist that plan with per-store counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.planning import LocatedItem, PlannedAction
from cm_pipelines.dsar.fulfil import plan_items, step_log
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.locate import locate
from cm_pipelines.dsar.request_records import RequestRecord
from cm_pipelines.tables.retention import legal_holds


def active_holds(fulfilment: FulfilmentContext, connection: sa.Connection) -> list[dict[str, Any]]:
    rows = connection.execute(
        sa.select(legal_holds).where(
            legal_holds.c.tenant_id == fulfilment.tenant.id, legal_holds.c.released_at.is_(None)
        )
    ).mappings()
    return [dict(row) for row in rows]


def locate_and_plan(fulfilment: FulfilmentContext) -> dict[str, Any]:
    done = step_log.resumed_past(fulfilment, "locate")
    if done is not None:
        return done
    record = fulfilment.record()
    subject = fulfilment.subject(record)
    with fulfilment.warehouse.connect() as connection:
        items = locate(connection, subject, hash_number=fulfilment.hash_number)
        holds = active_holds(fulfilment, connection)
    actions = planning.plan_request(
        record.request_type,
        items,
        holds=holds,
        tenant_id=fulfilment.tenant.id,
        hash_number=fulfilment.hash_number,
        rectify_fields=record.rectification.as_dict().keys(),
        dnc_rule=fulfilment.dnc_rule,
    )
    if record.request_type == "objection":
        actions = planning.plan_objection(subject)
    details = _plan_details(fulfilment, record, items, holds, actions)
    with fulfilment.warehouse.begin() as connection:
        if step_log.step_done(connection, fulfilment.request_id, "locate") is not None:
            return step_log.skip(fulfilment, "locate", details)  # a concurrent run got there
        plan_items.insert_plan(fulfilment, connection, actions)
        step_log.record_store_results(
            connection,
            fulfilment.request_id,
            "locate",
            _locate_store_results(items, actions),
            fulfilment.run_id,
            fulfilment.clock(),
        )
        step_log.finish(fulfilment, connection, "locate", details)
    return details


def _plan_details(
    fulfilment: FulfilmentContext,
    record: RequestRecord,
    items: Sequence[LocatedItem],
    holds: list[dict[str, Any]],
    actions: Sequence[PlannedAction],
) -> dict[str, Any]:
    """What the locate step records and reports: counts by store and action only."""
    located = planning.located_counts(items)
    return {
        "located": {k: v for k, v in located.items() if v},
        "planned": planning.action_counts(actions),
        "exempted": sum(1 for action in actions if action.exempt),
        "held_calls": len(planning.held_calls(items, holds, fulfilment.tenant.id))
        if record.request_type == "erasure"
        else 0,
    }


def _locate_store_results(
    items: Sequence[LocatedItem], actions: Sequence[PlannedAction]
) -> dict[str, dict[str, int]]:
    """Found, to be acted on and exempted, for every store where anything was."""
    located = planning.located_counts(items)
    exempted = Counter(action.store for action in actions if action.exempt)
    acted = Counter(action.store for action in actions if not action.exempt)
    return {
        name: {
            "found": located.get(name, 0),
            "acted": acted.get(name, 0),
            "exempted": exempted.get(name, 0),
        }
        for name in planning.STORES
        if located.get(name) or acted.get(name) or exempted.get(name)
    }
