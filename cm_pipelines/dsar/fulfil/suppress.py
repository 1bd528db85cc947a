"""Objection and consent withdrawal: the subject's numbers go on the tenant's suppression list
(internal do-not-call), or their recorded consents are revoked. Emails cannot be suppressed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.planning import Subject
from cm_pipelines.dsar.fulfil import plan_items, step_log
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.tenant_rows import chunks
from cm_pipelines.tables import dncr as dncr_tables

OBJECTION_SOURCE = "dsar_objection"


def suppress(fulfilment: FulfilmentContext) -> None:
    if step_log.resumed_past(fulfilment, "suppress") is not None:
        return
    subject = fulfilment.subject()
    now = fulfilment.clock()
    with fulfilment.warehouse.begin() as connection:
        added, reinstated, kept = _suppress_numbers(fulfilment, connection, subject, now)
        plan_items.mark_executed(
            fulfilment, connection, plan_items.pending(fulfilment, connection, planning.SUPPRESSION)
        )
        step_log.record_executed(
            fulfilment,
            connection,
            planning.SUPPRESSION,
            added + reinstated,
            already_suppressed=kept,
        )
        step_log.finish(
            fulfilment,
            connection,
            "suppress",
            {
                "added": added,
                "reinstated": reinstated,
                "already_suppressed": kept,
                "emails_not_suppressible": len(subject.emails),
            },
        )


def _suppress_numbers(
    fulfilment: FulfilmentContext, connection: sa.Connection, subject: Subject, now: datetime
) -> tuple[int, int, int]:
    """An objection entry per number: added, reinstated (it had been removed) or kept."""
    table = dncr_tables.suppression_entries
    added = reinstated = kept = 0
    for phone, phone_hash in sorted(subject.phone_hashes.items()):
        row = connection.execute(
            sa.select(table.c.id, table.c.removed_at).where(
                table.c.tenant_id == fulfilment.tenant.id,
                table.c.e164_hash == phone_hash,
                table.c.source == OBJECTION_SOURCE,
            )
        ).first()
        if row is None:
            connection.execute(
                sa.insert(table).values(
                    tenant_id=fulfilment.tenant.id,
                    e164=phone,
                    e164_hash=phone_hash,
                    source=OBJECTION_SOURCE,
                    dsar_request_id=fulfilment.request_id,
                    created_at=now,
                )
            )
            added += 1
        elif row[1] is not None:
            connection.execute(sa.update(table).where(table.c.id == row[0]).values(removed_at=None))
            reinstated += 1
        else:
            kept += 1
    return added, reinstated, kept


def verify_objection(fulfilment: FulfilmentContext) -> dict[str, Any]:
    """Every number of the subject has an active suppression entry."""
    subject = fulfilment.subject()
    table = dncr_tables.suppression_entries
    with fulfilment.warehouse.connect() as connection:
        active = {
            row[0]
            for row in connection.execute(
                sa.select(table.c.e164_hash).where(
                    table.c.tenant_id == fulfilment.tenant.id,
                    table.c.e164_hash.in_(sorted(subject.phone_hashes.values())),
                    table.c.removed_at.is_(None),
                )
            )
        }
    missing = len(set(subject.phone_hashes.values()) - active)
    return {"failed": missing, "suppressed_numbers": len(active)}


def revoke(fulfilment: FulfilmentContext) -> None:
    """Consent withdrawal: every planned consent is revoked (already revoked ones stay as
    they are)."""
    if step_log.resumed_past(fulfilment, "revoke") is not None:
        return
    table = dncr_tables.consents
    now = fulfilment.clock()
    revoked = 0
    with fulfilment.warehouse.begin() as connection:
        actions = [
            a for a in plan_items.load_plan(fulfilment, connection) if a.action == planning.REVOKE
        ]
        for chunk in chunks([int(a.ref) for a in actions]):
            result = connection.execute(
                sa.update(table)
                .where(
                    table.c.tenant_id == fulfilment.tenant.id,
                    table.c.id.in_(chunk),
                    table.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            revoked += int(result.rowcount or 0)
        plan_items.mark_executed(fulfilment, connection, actions)
        step_log.record_executed(
            fulfilment, connection, planning.CONSENTS, revoked, revoked=revoked
        )
        step_log.finish(
            fulfilment,
            connection,
            "revoke",
            {"consents_revoked": revoked, "already_revoked": len(actions) - revoked},
        )


def verify_revocation(fulfilment: FulfilmentContext) -> dict[str, Any]:
    """No planned consent is still active."""
    table = dncr_tables.consents
    with fulfilment.warehouse.connect() as connection:
        ids = [
            int(a.ref)
            for a in plan_items.load_plan(fulfilment, connection)
            if a.action == planning.REVOKE
        ]
        active = 0
        for chunk in chunks(ids):
            active += int(
                connection.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.id.in_(chunk), table.c.revoked_at.is_(None))
                ).scalar_one()
            )
    return {"failed": active, "consents_checked": len(ids)}
