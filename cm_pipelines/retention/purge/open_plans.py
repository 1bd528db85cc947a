"""Which plan a run works on, decided under the scope lock: refuse while an overlapping plan is
claimed, supersede open plans nothing was deleted of, resume the plan of this scope that must
be finished, or start a new one.

A plan that was approved or had started executing is *resumed* by the next run of the same
scope, whatever that run asked for, never replaced. A plan killed before its guard finished is
resumed by a run with the same day, scope and limits; any other run of that scope marks it
``superseded`` (nothing of it was deleted) and plans afresh. An unfinished plan past its guard
(approved, executing) of an overlapping but different scope is never superseded: the run
refuses and names the command that finishes it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.digests import artefacts_digest
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.retention.purge.claims import (
    NO_CLAIM,
    ClaimPolicy,
    busy_error,
    claim_holder,
    scope_label,
)
from cm_pipelines.retention.purge.plan_records import (
    OPEN_PLAN_STATES,
    STARTED_PLAN_STATES,
    PurgeRefused,
    set_plan,
)
from cm_pipelines.retention.purge.settings import PurgeSettings
from cm_pipelines.tables.retention import purge_plans


def _overlapping_open_plans(
    connection: sa.Connection, tenant_id: str | None
) -> list[dict[str, Any]]:
    """Open plans whose scope overlaps ``tenant_id`` (every open plan for all tenants)."""
    query = sa.select(purge_plans).where(purge_plans.c.status.in_(OPEN_PLAN_STATES))
    if tenant_id is not None:
        query = query.where(
            sa.or_(
                purge_plans.c.scope_tenant_id.is_(None),
                purge_plans.c.scope_tenant_id == tenant_id,
            )
        )
    return [
        dict(row)
        for row in connection.execute(query.order_by(purge_plans.c.created_at.desc())).mappings()
    ]


def _finish_command(tenant_id: str | None) -> str:
    return "cm retention purge" + (f" --tenant {tenant_id}" if tenant_id else "")


def claim_or_start(
    connection: sa.Connection,
    settings: PurgeSettings,
    *,
    as_of: date,
    run_id: str,
    claims: ClaimPolicy,
    actor: str,
) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    """Under the scope lock: refuse while an overlapping plan is claimed, supersede what is safe
    to drop, then claim the plan to resume, or insert a new plan row (``planning``) claimed by
    this run. Returns (plan to resume, new plan id, superseded plan ids)."""
    now = datetime.now(UTC)
    open_plans = _overlapping_open_plans(connection, settings.tenant_id)
    for open_plan in open_plans:
        holder = claim_holder(open_plan, run_id, now, claims)
        if holder is not None:
            raise busy_error(open_plan, holder, claims)
    resume, superseded = _resume_or_supersede(open_plans, settings, as_of)
    for plan_id in superseded:
        set_plan(connection, plan_id, status="superseded", **NO_CLAIM)
        append_audit(
            connection,
            actor=actor,
            action="retention.purge_superseded",
            object_refs={"plan_id": plan_id},
            details={"reason": "a newer run planned again before any deletion"},
            run_id=run_id,
        )
    if resume is not None:
        values: dict[str, Any] = {
            "last_run_id": run_id,
            "claimed_by_run": run_id,
            "claim_heartbeat_at": now,
        }
        if settings.override_reason and resume["status"] == "planned":
            values.update(_override_values(settings.override_reason, settings.override_by, now))
        set_plan(connection, resume["plan_id"], **values)
        return resume, None, superseded
    return None, _insert_new_plan(connection, settings, as_of, run_id, now), superseded


def _resume_or_supersede(
    open_plans: list[dict[str, Any]], settings: PurgeSettings, as_of: date
) -> tuple[dict[str, Any] | None, list[str]]:
    """Of the open plans overlapping this run's scope: the one to resume (a started plan of the
    same scope, or one planned for the same day and limits) and those to supersede. Refuses
    while a started plan of another scope is unfinished."""
    scope = settings.tenant_id
    superseded: list[str] = []
    resume: dict[str, Any] | None = None
    for open_plan in open_plans:
        started = open_plan["status"] in STARTED_PLAN_STATES
        if open_plan["scope_tenant_id"] != scope:
            if started:
                other = open_plan["scope_tenant_id"]
                raise PurgeRefused(
                    f"purge plan {open_plan['plan_id']} ({scope_label(other)}) has started "
                    f"deleting and is unfinished; it overlaps this purge ({scope_label(scope)}). "
                    f"Finish it first: {_finish_command(other)}"
                )
            superseded.append(open_plan["plan_id"])
            continue
        thresholds = open_plan["thresholds"] or {}
        same_request = (
            open_plan["status"] == "planned"
            and str(open_plan["as_of"]) == as_of.isoformat()
            and thresholds.get("max_tenant_share") == settings.limits.max_tenant_share
            and thresholds.get("max_plan_items") == settings.limits.max_plan_items
        )
        if resume is None and (started or same_request):
            resume = open_plan
        elif not started:
            superseded.append(open_plan["plan_id"])
    return resume, superseded


def _override_values(reason: str, by: str | None, now: datetime) -> dict[str, Any]:
    """The operator override a run brings to its plan (the guard audits its use)."""
    return {
        "override_reason": reason[:500],
        "override_by": (by or "unknown-operator")[:128],
        "override_at": now,
    }


def _insert_new_plan(
    connection: sa.Connection, settings: PurgeSettings, as_of: date, run_id: str, now: datetime
) -> str:
    """A new plan row (``planning``, no items yet) claimed by ``run_id``; returns its id."""
    plan_id = f"purge-{as_of:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    row: dict[str, Any] = {
        "plan_id": plan_id,
        "status": "planning",
        "as_of": as_of,
        "scope_tenant_id": settings.tenant_id,
        "created_at": now,
        "created_run_id": run_id,
        "last_run_id": run_id,
        "thresholds": {
            "max_tenant_share": settings.limits.max_tenant_share,
            "max_plan_items": settings.limits.max_plan_items,
            "object_batch_size": settings.object_batch_size,
            "row_batch_size": settings.row_batch_size,
        },
        "tenant_totals": {},
        "item_count": 0,
        "object_count": 0,
        "batch_count": 0,
        "items_sha256": artefacts_digest(pd.DataFrame()),
        "updated_at": now,
        "claimed_by_run": run_id,
        "claim_heartbeat_at": now,
    }
    if settings.override_reason:
        row.update(_override_values(settings.override_reason, settings.override_by, now))
    connection.execute(sa.insert(purge_plans).values(**row))
    return plan_id
