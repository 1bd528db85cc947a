"""Guard: the blocking checks, re-derived from the warehouse now, never trusted from the plan.

Every pending item's state is derived again: nothing held, nothing not yet due, and the circuit
breaker (share of each tenant's live artefacts, absolute ceiling) unless the plan carries an
operator override, which is audited when it is used. Held or not-yet-due items are never
overridable. ``revalidate`` derives the same states to withdraw such items from a plan being
resumed or executed (recorded, never deleted).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.circuit_breaker import (
    BreakerLimits,
    BreakerVerdict,
    evaluate_breaker,
)
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.current_states import current_states, today_utc
from cm_pipelines.retention.policy_versions import SYSTEM_ACTOR
from cm_pipelines.retention.purge.claims import (
    NO_CLAIM,
    ClaimPolicy,
    release_claim,
    take_claim,
)
from cm_pipelines.retention.purge.plan_records import (
    PENDING_ITEM_STATES,
    plan_items_frame,
    plan_row,
    set_plan,
)
from cm_pipelines.tables.retention import purge_plan_items


@dataclass
class GuardOutcome:
    plan_id: str
    passed: bool
    held: int
    not_due: int
    pending: int
    breaker: BreakerVerdict
    overridden: bool


def _pending_with_states(
    connection: sa.Connection, plan_id: str, as_of: date, hash_key: bytes
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The plan's pending items, and the same joined with each artefact's state now (None when
    nothing is pending: no states are derived then)."""
    pending = plan_items_frame(connection, plan_id, PENDING_ITEM_STATES)
    if pending.empty:
        return pending, None
    states, _ = current_states(
        connection, as_of=as_of, hash_key=hash_key, tenant_ids=set(pending["tenant_id"])
    )
    joined = pending.merge(
        states[["tenant_id", "record_type", "artefact_id", "state"]],
        on=["tenant_id", "record_type", "artefact_id"],
        how="left",
    )
    return pending, joined


def revalidate(
    warehouse: WarehouseResource,
    plan_id: str,
    *,
    as_of: date,
    hash_key: bytes,
    run_id: str | None,
) -> Counter[str]:
    """Withdraw pending items that are now held or no longer due (recorded, never deleted)."""
    with warehouse.connect() as connection:
        _, joined = _pending_with_states(connection, plan_id, as_of, hash_key)
    if joined is None:
        return Counter()
    withdraw = joined.loc[joined["state"].isin(["held", "active"])]
    if withdraw.empty:
        return Counter()
    now = datetime.now(UTC)
    details: Counter[str] = Counter()
    with warehouse.begin() as connection:
        for state, group in withdraw.groupby("state"):
            detail = "now_held" if state == "held" else "not_due"
            details[detail] += len(group)
            connection.execute(
                sa.update(purge_plan_items)
                .where(
                    purge_plan_items.c.plan_id == plan_id,
                    purge_plan_items.c.item_no.in_([int(n) for n in group["item_no"]]),
                    purge_plan_items.c.status.in_(PENDING_ITEM_STATES),
                )
                .values(status="withdrawn", detail=detail, done_at=now, done_run_id=run_id)
            )
    return details


def guard_plan(
    warehouse: WarehouseResource,
    plan_id: str,
    *,
    hash_key: bytes,
    run_id: str,
    as_of: date | None = None,
    actor: str = SYSTEM_ACTOR,
    claims: ClaimPolicy | None = None,
) -> GuardOutcome:
    """The blocking checks, re-derived from the warehouse now, not trusted from the plan."""
    with warehouse.begin() as connection:
        take_claim(connection, plan_id, run_id, claims or ClaimPolicy())
    try:
        return _guard(warehouse, plan_id, hash_key, run_id, as_of or today_utc(), actor)
    except BaseException:
        release_claim(warehouse, plan_id, run_id)
        raise


def _guard(
    warehouse: WarehouseResource,
    plan_id: str,
    hash_key: bytes,
    run_id: str,
    as_of: date,
    actor: str,
) -> GuardOutcome:
    with warehouse.connect() as connection:
        plan = plan_row(connection, plan_id)
        pending, joined = _pending_with_states(connection, plan_id, as_of, hash_key)
    held = 0 if joined is None else int((joined["state"] == "held").sum())
    not_due = 0 if joined is None else int((joined["state"] == "active").sum())
    limits, verdict = _breaker(plan)
    overridden = verdict.tripped and bool(plan["override_reason"])
    passed = held == 0 and not_due == 0 and (not verdict.tripped or overridden)
    result = {
        "checked_at": datetime.now(UTC).isoformat(),
        "run_id": run_id,
        "pending": int(len(pending)),
        "held": held,
        "not_due": not_due,
        "breaker_tripped": verdict.tripped,
        "breaker_reasons": list(verdict.reasons),
        "tenant_shares": verdict.tenant_shares,
        "overridden": overridden,
        "passed": passed,
    }
    with warehouse.begin() as connection:
        values: dict[str, Any] = {"guard_result": result}
        if plan["status"] == "planned":
            values["status"] = "approved" if passed else "refused"
        if values.get("status") == "refused":
            values.update(NO_CLAIM)  # closed: nothing left to keep others away from
        set_plan(connection, plan_id, **values)
        if overridden:
            _audit_override(connection, plan, verdict, limits, run_id)
        if not passed:
            append_audit(
                connection,
                actor=actor,
                action="retention.purge_refused",
                object_refs={"plan_id": plan_id},
                details={
                    "held": held,
                    "not_due": not_due,
                    "breaker_tripped": verdict.tripped,
                    "tenant_shares": verdict.tenant_shares,
                    "plan_items": verdict.plan_items,
                },
                run_id=run_id,
            )
    return GuardOutcome(plan_id, passed, held, not_due, int(len(pending)), verdict, overridden)


def _breaker(plan: dict[str, Any]) -> tuple[BreakerLimits, BreakerVerdict]:
    """The circuit breaker on the limits and per-tenant totals stored with the plan."""
    thresholds = plan["thresholds"] or {}
    limits = BreakerLimits(
        max_tenant_share=float(
            thresholds.get("max_tenant_share", BreakerLimits().max_tenant_share)
        ),
        max_plan_items=int(thresholds.get("max_plan_items", BreakerLimits().max_plan_items)),
    )
    totals = plan["tenant_totals"] or {}
    verdict = evaluate_breaker(
        {tenant: int(entry["planned"]) for tenant, entry in totals.items() if entry["planned"]},
        {tenant: int(entry["live"]) for tenant, entry in totals.items()},
        limits,
    )
    return limits, verdict


def _audit_override(
    connection: sa.Connection,
    plan: dict[str, Any],
    verdict: BreakerVerdict,
    limits: BreakerLimits,
    run_id: str,
) -> None:
    """The operator's override was used: audited in their name, the reason only as a hash."""
    append_audit(
        connection,
        actor=f"operator:{plan['override_by']}",
        action="retention.breaker_overridden",
        object_refs={"plan_id": plan["plan_id"]},
        details={
            "reason_sha256": _sha256(str(plan["override_reason"])),
            "tenant_shares": verdict.tenant_shares,
            "plan_items": verdict.plan_items,
            "limits": {
                "max_tenant_share": limits.max_tenant_share,
                "max_plan_items": limits.max_plan_items,
            },
            "tripped_checks": len(verdict.reasons),
        },
        run_id=run_id,
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
