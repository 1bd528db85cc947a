"""Rectification: the corrected contact details go into the subject's CRM links (and a rectify
task to each CRM system), a corrected name into the calls they placed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.planning import Subject
from cm_pipelines.domain.dsar.requests import Rectification
from cm_pipelines.dsar.fulfil import plan_items, step_log
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.crm_outbox import write_outbox
from cm_pipelines.dsar.fulfil.tenant_rows import chunks, rows_by_ref
from cm_pipelines.tables import calls as call_tables


def rectify(fulfilment: FulfilmentContext) -> None:
    if step_log.resumed_past(fulfilment, "rectify") is not None:
        return
    record = fulfilment.record()
    subject = fulfilment.subject(record)
    new = record.rectification
    counts = {"crm_links": 0, "calls": 0}
    with fulfilment.warehouse.begin() as connection:
        actions = [
            a for a in plan_items.load_plan(fulfilment, connection) if a.action == planning.RECTIFY
        ]
        link_ids = [int(a.ref) for a in actions if a.store == planning.CRM_LINKS]
        rectified_links = _rectify_crm_links(fulfilment, connection, new, link_ids)
        if rectified_links is not None:
            counts["crm_links"], counts["outbox_tasks"] = rectified_links
        call_ids = [a.ref for a in actions if a.store == planning.CALLS]
        if new.caller_name and call_ids:
            counts["calls"] = _rectify_caller_name(
                fulfilment, connection, new.caller_name, subject, call_ids
            )
        plan_items.mark_executed(fulfilment, connection, actions)
        step_log.record_executed(
            fulfilment, connection, planning.CRM_LINKS, counts["crm_links"], rectified=1
        )
        step_log.record_executed(
            fulfilment, connection, planning.CALLS, counts["calls"], rectified=1
        )
        step_log.finish(
            fulfilment, connection, "rectify", {**counts, "fields": sorted(new.as_dict())}
        )


def _rectify_crm_links(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    new: Rectification,
    link_ids: list[int],
) -> tuple[int, int] | None:
    """New contact email / number on the planned links: (links rectified, outbox tasks), or
    None when there is nothing to change."""
    links = call_tables.crm_links
    values = {}
    if new.email:
        values["contact_email"] = new.email
    if new.e164:
        values["contact_e164"] = new.e164
    if not (values and link_ids):
        return None
    for chunk in chunks(link_ids):
        connection.execute(
            sa.update(links)
            .where(links.c.tenant_id == fulfilment.tenant.id, links.c.id.in_(chunk))
            .values(**values)
        )
    rows = rows_by_ref(fulfilment, connection, links, links.c.id, link_ids)
    return len(link_ids), write_outbox(fulfilment, connection, rows, "rectify")


def _rectify_caller_name(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    caller_name: str,
    subject: Subject,
    call_ids: list[str],
) -> int:
    """The corrected name on the planned calls the subject placed; returns calls changed."""
    calls = call_tables.calls
    changed = 0
    for chunk in chunks(call_ids):
        result = connection.execute(
            sa.update(calls)
            .where(
                calls.c.tenant_id == fulfilment.tenant.id,
                calls.c.call_id.in_(chunk),
                calls.c.src_e164.in_(sorted(subject.phones)),
            )
            .values(caller_name=caller_name)
        )
        changed += int(result.rowcount or 0)
    return changed


def verify_rectification(fulfilment: FulfilmentContext) -> dict[str, Any]:
    """Every planned CRM link shows the corrected contact details."""
    new = fulfilment.record().rectification
    links = call_tables.crm_links
    failed = 0
    with fulfilment.warehouse.connect() as connection:
        actions = plan_items.load_plan(fulfilment, connection)
        link_ids = [int(a.ref) for a in actions if a.store == planning.CRM_LINKS]
        for row in rows_by_ref(fulfilment, connection, links, links.c.id, link_ids):
            if (new.email and row["contact_email"] != new.email) or (
                new.e164 and row["contact_e164"] != new.e164
            ):
                failed += 1
    return {"failed": failed, "crm_links_checked": len(link_ids)}
