"""Restriction: the subject's identifiers go on the tenant's restriction list, their records are
marked restricted (kept, no longer processed) and CRM systems get a restrict task."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.planning import PlannedAction, Subject
from cm_pipelines.dsar.fulfil import plan_items, step_log
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.crm_outbox import write_outbox
from cm_pipelines.dsar.fulfil.tenant_rows import chunks, rows_by_ref
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables.dsar import restrictions

RESTRICTABLE: dict[str, tuple[sa.Table, sa.Column, type]] = {
    planning.CALLS: (call_tables.calls, call_tables.calls.c.call_id, str),
    planning.CRM_LINKS: (call_tables.crm_links, call_tables.crm_links.c.id, int),
    planning.CONSENTS: (dncr_tables.consents, dncr_tables.consents.c.id, int),
    planning.WASH_RESULTS: (dncr_tables.wash_results, dncr_tables.wash_results.c.id, int),
}
"""Stores whose rows carry ``restricted_at``: table, key column and the ref's type."""


def restrict(fulfilment: FulfilmentContext) -> None:
    if step_log.resumed_past(fulfilment, "restrict") is not None:
        return
    subject = fulfilment.subject(fulfilment.record())
    now = fulfilment.clock()
    counts: dict[str, int] = {}
    with fulfilment.warehouse.begin() as connection:
        actions = [
            a
            for a in plan_items.load_plan(fulfilment, connection)
            if a.action == planning.MARK_RESTRICTED
        ]
        counts["restriction_entries"] = _add_restriction_entries(
            fulfilment, connection, subject, now
        )
        counts.update(_mark_restricted(fulfilment, connection, actions, now))
        link_ids = [int(a.ref) for a in actions if a.store == planning.CRM_LINKS]
        links = call_tables.crm_links
        rows = rows_by_ref(fulfilment, connection, links, links.c.id, link_ids)
        counts["outbox_tasks"] = write_outbox(fulfilment, connection, rows, "restrict")
        plan_items.mark_executed(fulfilment, connection, actions)
        for name in RESTRICTABLE:
            step_log.record_executed(
                fulfilment, connection, name, counts[name], marked_restricted=counts[name]
            )
        step_log.finish(fulfilment, connection, "restrict", counts)


def _add_restriction_entries(
    fulfilment: FulfilmentContext, connection: sa.Connection, subject: Subject, now: datetime
) -> int:
    """One restriction entry per identifier hash of this request; returns how many were new."""
    identifiers = [("phone", h) for h in subject.phone_hashes.values()] + [
        ("email", h) for h in subject.email_hashes.values()
    ]
    added = 0
    for kind, identifier_hash in identifiers:
        exists = connection.execute(
            sa.select(restrictions.c.id).where(
                restrictions.c.tenant_id == fulfilment.tenant.id,
                restrictions.c.identifier_hash == identifier_hash,
                restrictions.c.dsar_request_id == fulfilment.request_id,
            )
        ).first()
        if exists is None:
            connection.execute(
                sa.insert(restrictions).values(
                    tenant_id=fulfilment.tenant.id,
                    identifier_hash=identifier_hash,
                    identifier_kind=kind,
                    dsar_request_id=fulfilment.request_id,
                    created_at=now,
                )
            )
            added += 1
    return added


def _mark_restricted(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    actions: list[PlannedAction],
    now: datetime,
) -> dict[str, int]:
    """Set ``restricted_at`` where it is not set yet; returns the planned refs per store."""
    counts: dict[str, int] = {}
    for name, (table, column, cast) in RESTRICTABLE.items():
        refs = [cast(a.ref) for a in actions if a.store == name]
        for chunk in chunks(refs):
            connection.execute(
                sa.update(table)
                .where(
                    table.c.tenant_id == fulfilment.tenant.id,
                    column.in_(chunk),
                    table.c.restricted_at.is_(None),
                )
                .values(restricted_at=now)
            )
        counts[name] = len(refs)
    return counts


def verify_restriction(fulfilment: FulfilmentContext) -> dict[str, Any]:
    """Every planned record is marked restricted and every identifier is on the list."""
    subject = fulfilment.subject()
    failed = 0
    with fulfilment.warehouse.connect() as connection:
        actions = plan_items.load_plan(fulfilment, connection)
        for name, (table, column, cast) in RESTRICTABLE.items():
            refs = [cast(a.ref) for a in actions if a.store == name]
            for chunk in chunks(refs):
                failed += int(
                    connection.execute(
                        sa.select(sa.func.count())
                        .select_from(table)
                        .where(
                            table.c.tenant_id == fulfilment.tenant.id,
                            column.in_(chunk),
                            table.c.restricted_at.is_(None),
                        )
                    ).scalar_one()
                )
        hashes = set(subject.phone_hashes.values()) | set(subject.email_hashes.values())
        present = {
            row[0]
            for row in connection.execute(
                sa.select(restrictions.c.identifier_hash).where(
                    restrictions.c.tenant_id == fulfilment.tenant.id,
                    restrictions.c.identifier_hash.in_(sorted(hashes)),
                    restrictions.c.lifted_at.is_(None),
                )
            )
        }
    failed += len(hashes - present)
    return {"failed": failed, "restricted_identifiers": len(present)}
