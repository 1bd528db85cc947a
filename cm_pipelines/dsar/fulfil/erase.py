"""Erasure, store by store, each store one logged step (``erase.<store>``).

Stores run in ``planning.STORES`` order, the call log last. Exempt records (legal holds, legal bases) are planned ``retain`` and never reach a handler;
consents, suppression entries and (under a do-not-call evidence floor) wash results are kept
under their basis without the raw number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.planning import PlannedAction
from cm_pipelines.dsar.erasure_ledger import record_erased_subject, subject_names
from cm_pipelines.dsar.fulfil import plan_items, step_log
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.crm_outbox import write_outbox
from cm_pipelines.dsar.fulfil.erase_artefacts import erase_artefacts
from cm_pipelines.dsar.fulfil.erase_source_lines import blank_source_lines
from cm_pipelines.dsar.fulfil.tenant_rows import chunks, rows_by_ref
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables

Handler = Callable[[list[PlannedAction]], dict[str, int]]


def erase(fulfilment: FulfilmentContext) -> None:
    _record_in_ledger(fulfilment)
    handlers = _store_handlers(fulfilment)
    for store_name in planning.STORES:
        handler = handlers.get(store_name)
        if handler is None:
            continue  # blocked calls and restrictions are only ever retained
        _erase_store(fulfilment, store_name, handler)


def _record_in_ledger(fulfilment: FulfilmentContext) -> None:
    """Keyed hashes of the subject (numbers, emails, CRM ids, caller-ID names) go into the
    tenant's erasure ledger before any store is touched: ingestion treats data arriving again
    as this erasure did, and the names are read while the call log still holds them."""
    subject = fulfilment.subject()
    with fulfilment.warehouse.begin() as connection:
        names = subject_names(connection, fulfilment.tenant.id, subject)
        added = record_erased_subject(
            connection,
            tenant_id=fulfilment.tenant.id,
            request_id=fulfilment.request_id,
            subject=subject,
            names=names,
            key=fulfilment.hash_key,
            now=fulfilment.clock(),
        )
    fulfilment.report.counts["ledger_entries_added"] = added


def _store_handlers(fulfilment: FulfilmentContext) -> dict[str, Handler]:
    # The lambdas look the handlers up when called: a test replaces ``pseudonymise_calls``
    # in this module to kill a run before the call log step.
    return {
        planning.RECORDINGS: lambda a: erase_artefacts(fulfilment, planning.RECORDINGS, a),
        planning.TRANSCRIPTS: lambda a: erase_artefacts(fulfilment, planning.TRANSCRIPTS, a),
        planning.AI_OUTPUTS: lambda a: erase_artefacts(fulfilment, planning.AI_OUTPUTS, a),
        planning.CRM_LINKS: lambda a: erase_crm_links(fulfilment, a),
        planning.WASH_RESULTS: lambda a: erase_wash_results(fulfilment, a),
        planning.CONSENTS: lambda a: minimise(fulfilment, dncr_tables.consents, a),
        planning.SUPPRESSION: lambda a: minimise(fulfilment, dncr_tables.suppression_entries, a),
        planning.CRM_SOURCE_LINES: lambda a: blank_source_lines(fulfilment, "crm", a),
        planning.CDR_SOURCE_LINES: lambda a: blank_source_lines(fulfilment, "cdr", a),
        planning.CALLS: lambda a: pseudonymise_calls(fulfilment, a),
    }


def _erase_store(fulfilment: FulfilmentContext, store_name: str, handler: Handler) -> None:
    """One store's step: its pending actions, then its result and the step logged together."""
    step = f"erase.{store_name}"
    if step_log.resumed_past(fulfilment, step) is not None:
        return
    with fulfilment.warehouse.connect() as connection:
        pending = plan_items.pending(fulfilment, connection, store_name)
    counts = handler(pending) if pending else {}
    with fulfilment.warehouse.begin() as connection:
        if pending:  # counted from the plan, so a resumed store reports all of it
            executed = plan_items.executed_count(fulfilment, connection, store_name)
            step_log.record_executed(fulfilment, connection, store_name, executed, **counts)
        step_log.finish(fulfilment, connection, step, {"store": store_name, **counts})


def erase_crm_links(fulfilment: FulfilmentContext, actions: list[PlannedAction]) -> dict[str, int]:
    links = call_tables.crm_links
    ids = [int(a.ref) for a in actions]
    with fulfilment.warehouse.begin() as connection:
        rows = rows_by_ref(fulfilment, connection, links, links.c.id, ids)
        recipients = write_outbox(fulfilment, connection, rows, "erase")
        for chunk in chunks(ids):
            connection.execute(
                sa.delete(links).where(
                    links.c.tenant_id == fulfilment.tenant.id, links.c.id.in_(chunk)
                )
            )
        plan_items.mark_executed(fulfilment, connection, actions)
    return {"deleted": len(rows), "outbox_tasks": recipients}


def delete_rows(
    fulfilment: FulfilmentContext, table: sa.Table, actions: list[PlannedAction]
) -> dict[str, int]:
    ids = [int(a.ref) for a in actions]
    with fulfilment.warehouse.begin() as connection:
        for chunk in chunks(ids):
            connection.execute(
                sa.delete(table).where(
                    table.c.tenant_id == fulfilment.tenant.id, table.c.id.in_(chunk)
                )
            )
        plan_items.mark_executed(fulfilment, connection, actions)
    return {"deleted": len(ids)}


def erase_wash_results(
    fulfilment: FulfilmentContext, actions: list[PlannedAction]
) -> dict[str, int]:
    """Deleted, unless the tenant's do-not-call evidence floor keeps them minimised."""
    table = dncr_tables.wash_results
    counts = minimise(fulfilment, table, actions)
    to_delete = [a for a in actions if a.action == planning.DELETE]
    return {**counts, **(delete_rows(fulfilment, table, to_delete) if to_delete else {})}


def minimise(
    fulfilment: FulfilmentContext, table: sa.Table, actions: list[PlannedAction]
) -> dict[str, int]:
    """Keep the record under its legal basis, without the raw number (the hash stays)."""
    to_minimise = [a for a in actions if a.action == planning.RETAIN_MINIMISED]
    ids = [int(a.ref) for a in to_minimise]
    with fulfilment.warehouse.begin() as connection:
        for chunk in chunks(ids):
            connection.execute(
                sa.update(table)
                .where(table.c.tenant_id == fulfilment.tenant.id, table.c.id.in_(chunk))
                .values(e164=None)
            )
        plan_items.mark_executed(fulfilment, connection, to_minimise)
    return {"minimised": len(ids)}


def pseudonymise_calls(
    fulfilment: FulfilmentContext, actions: list[PlannedAction]
) -> dict[str, int]:
    """The subject's numbers become their keyed hash; name and CRM reference go."""
    calls = call_tables.calls
    pseudonymise = [a for a in actions if a.action == planning.PSEUDONYMISE]
    hashes = {a.ref: set(a.details.get("subject_number_hashes", [])) for a in pseudonymise}
    now = fulfilment.clock()
    replaced = 0
    with fulfilment.warehouse.begin() as connection:
        rows = rows_by_ref(fulfilment, connection, calls, calls.c.call_id, sorted(hashes))
        updates = []
        for row in rows:
            values, numbers = _pseudonymised(fulfilment, row, hashes[row["call_id"]])
            updates.append(values)
            replaced += numbers
        if updates:
            connection.execute(
                sa.update(calls)
                .where(
                    calls.c.tenant_id == fulfilment.tenant.id,
                    calls.c.call_id == sa.bindparam("b_call_id"),
                )
                .values(
                    src_e164=sa.bindparam("b_src"),
                    dst_e164=sa.bindparam("b_dst"),
                    caller_name=sa.bindparam("b_name"),
                    userfield=sa.bindparam("b_userfield"),
                    crm_ref=None,
                    erased_at=now,
                ),
                updates,
            )
        plan_items.mark_executed(fulfilment, connection, pseudonymise)
    return {"pseudonymised": len(rows), "numbers_replaced": replaced}


def _pseudonymised(
    fulfilment: FulfilmentContext, row: dict[str, Any], mine: set[str]
) -> tuple[dict[str, Any], int]:
    """One call's bound values with the subject's numbers (``mine``, as keyed hashes) replaced
    by their hash, and how many numbers were replaced."""
    values = {"b_call_id": row["call_id"]}
    src_hash = fulfilment.hash_number(row["src_e164"]) if row["src_e164"] else None
    dst_hash = fulfilment.hash_number(row["dst_e164"]) if row["dst_e164"] else None
    subject_called = src_hash in mine
    values["b_src"] = src_hash if subject_called else row["src_e164"]
    values["b_dst"] = dst_hash if dst_hash in mine else row["dst_e164"]
    values["b_name"] = None if subject_called else row["caller_name"]
    campaign = row["campaign_id"]
    values["b_userfield"] = f"campaign={campaign}" if campaign else None
    return values, int(subject_called) + int(dst_hash in mine)
