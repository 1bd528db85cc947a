"""Verifying an erasure: locate again, and only exempted items may remain.

Locate cannot see every effect (an object still readable, a source line still holding data,
once the call lost its numbers), so those are checked against the plan as well. Records that
arrived after the plan (a late ingestion) are planned and erased in a further round before the
verification gives up; a failed verification leaves the request in progress.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.planning import ErasureVerification, LocatedItem, PlannedAction
from cm_pipelines.dsar.fulfil import plan_items, step_log
from cm_pipelines.dsar.fulfil.context import FulfilmentContext, FulfilmentError
from cm_pipelines.dsar.fulfil.erase import erase
from cm_pipelines.dsar.fulfil.erase_source_lines import unblanked_lines
from cm_pipelines.dsar.fulfil.locate_and_plan import active_holds
from cm_pipelines.dsar.locate import locate
from cm_pipelines.dsar.request_changes import ACTOR_PIPELINE
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.object_purge import still_present

VERIFY_ROUNDS = 2


def verify_erasure(fulfilment: FulfilmentContext) -> dict[str, Any]:
    """Locate again: only exempted items may remain. Records that arrived after the plan
    (a late ingestion) are planned and erased in a second round before giving up."""
    verification = _verify_in_rounds(fulfilment)
    details = {
        "passed": verification.passed,
        "remaining_by_store": verification.remaining_by_store,
        "unexpected_by_store": verification.unexpected_by_store,
        "failed_checks_by_store": verification.failed_checks_by_store,
    }
    with fulfilment.warehouse.begin() as connection:
        step_log.record_store_results(
            connection,
            fulfilment.request_id,
            "verify",
            _verify_store_results(verification),
            fulfilment.run_id,
            fulfilment.clock(),
        )
        if verification.passed:
            step_log.finish(fulfilment, connection, "verify", details)
    if not verification.passed:
        raise FulfilmentError(
            f"erasure of request {fulfilment.request_id} did not verify: unexpected records "
            f"{verification.unexpected_by_store}, unconfirmed actions "
            f"{verification.failed_checks_by_store}; the request stays in progress"
        )
    return details


def _verify_in_rounds(fulfilment: FulfilmentContext) -> ErasureVerification:
    verification = None
    for _round in range(VERIFY_ROUNDS):
        subject = fulfilment.subject()
        with fulfilment.warehouse.connect() as connection:
            relocated = locate(connection, subject, hash_number=fulfilment.hash_number)
            actions = plan_items.load_plan(fulfilment, connection)
            holds = active_holds(fulfilment, connection)
        verification = planning.verify_erasure(
            actions, relocated, _postcondition_failures(fulfilment, actions)
        )
        if verification.passed:
            break
        planned = {a.key for a in actions}
        late = [item for item in relocated if item.key not in planned]
        if not late:
            break
        top_up_plan(fulfilment, late, holds)
    assert verification is not None
    return verification


def _verify_store_results(verification: ErasureVerification) -> dict[str, dict[str, Any]]:
    """What remains per store: exempted, unexpected, and actions whose effect is unconfirmed."""
    return {
        name: {
            "found": verification.remaining_by_store.get(name, 0),
            "acted": 0,
            "exempted": verification.remaining_by_store.get(name, 0)
            - verification.unexpected_by_store.get(name, 0),
            "details": {
                "unexpected": verification.unexpected_by_store.get(name, 0),
                "failed_checks": verification.failed_checks_by_store.get(name, 0),
            },
        }
        for name in planning.STORES
        if verification.remaining_by_store.get(name)
        or verification.failed_checks_by_store.get(name)
    }


def _postcondition_failures(
    fulfilment: FulfilmentContext, actions: Sequence[PlannedAction]
) -> dict[str, int]:
    """Effects locate cannot see: objects gone, source lines blank, every action run."""
    failed: Counter[str] = Counter()
    with fulfilment.warehouse.connect() as connection:
        executed = plan_items.executed_keys(fulfilment, connection)
    paths = [
        a.details["object_path"]
        for a in actions
        if a.action == planning.DELETE and a.details.get("object_path")
    ]
    left = set(still_present(fulfilment.object_store, paths)) if paths else set()
    blankings: list[PlannedAction] = []
    for action in actions:
        if action.action == planning.RETAIN:
            continue
        if action.key not in executed:
            failed[action.store] += 1
        elif action.details.get("object_path") in left and action.action == planning.DELETE:
            failed[action.store] += 1
        elif action.action == planning.BLANK_LINE:
            blankings.append(action)
    for action in unblanked_lines(fulfilment, blankings):
        failed[action.store] += 1
    return dict(failed)


def top_up_plan(
    fulfilment: FulfilmentContext, late: list[LocatedItem], holds: list[dict[str, Any]]
) -> None:
    """Plan the late records, reopen the erase steps of their stores (audited), erase again."""
    actions = planning.plan_erasure(
        late,
        holds=holds,
        tenant_id=fulfilment.tenant.id,
        hash_number=fulfilment.hash_number,
        dnc_rule=fulfilment.dnc_rule,
    )
    stores = sorted({a.store for a in actions if not a.exempt})
    with fulfilment.warehouse.begin() as connection:
        plan_items.insert_plan(fulfilment, connection, actions)
        step_log.reopen_steps(connection, fulfilment.request_id, [f"erase.{s}" for s in stores])
        append_audit(
            connection,
            actor=ACTOR_PIPELINE,
            action="dsar.plan.top_up",
            tenant_id=fulfilment.tenant.id,
            object_refs={"request_id": fulfilment.request_id},
            details={"planned": planning.action_counts(actions)},
            run_id=fulfilment.run_id,
        )
    erase(fulfilment)
