"""Scopes, locks and claims: how overlapping purge runs are kept apart.

A plan's scope is one tenant or every tenant (``scope_tenant_id`` NULL). A run only ever looks
up, resumes or supersedes plans of its own scope; two scopes *overlap* when they are equal or
either is every tenant, so an all-tenants purge conflicts with every tenant purge while purges
of two different tenants never meet. Overlapping runs are kept apart in two layers:

* a database lock around every check-and-claim: on PostgreSQL a transaction advisory lock,
  exclusive on ``advisory_lock_key("retention", tenant)`` and shared on ``("retention", "*")``
  for a tenant run, exclusive on ``"*"`` for an all-tenants run (the same two-level pattern a
  table lock uses); on SQLite every write transaction is ``BEGIN IMMEDIATE``, one at a time;
* a *claim* on the plan (``claimed_by_run`` + ``claim_heartbeat_at``), taken when the plan is
  created or resumed and renewed by the guard, every batch and the proof, released when the
  plan closes or the run fails. While another run's claim on an overlapping plan is fresh a run
  refuses cleanly (``PurgeBusy``) before touching anything, and a run that finds its own claim
  taken stops before its next batch. A claim lapses ``CLAIM_TTL`` after its last heartbeat (a
  run killed outright), or at once when the Dagster instance says its run has finished.

An unfinished plan past its guard (approved, executing) of an overlapping but different scope is
never superseded: the run refuses and names the command that finishes it (``purge.open_plans``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cm_pipelines.resources.locks import advisory_lock_key
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.retention.purge.plan_records import PurgeRefused, plan_row, set_plan
from cm_pipelines.tables.retention import purge_plans

LOCK_SCOPE = "retention"
ALL_TENANTS_SCOPE = "*"
CLAIM_TTL = timedelta(minutes=10)
"""A claim not renewed for this long belongs to a run that died: another run may take over.
Renewed at every step and batch; one batch (<= 1,000 objects) takes seconds."""


class PurgeBusy(PurgeRefused):
    """Another run is working on an overlapping plan: this run stopped without changing it."""


@dataclass(frozen=True)
class ClaimPolicy:
    """When another run's claim on a plan still stands: its heartbeat is younger than ``ttl``
    and ``holder_finished`` (the Dagster instance, when there is one) does not say its run
    has ended."""

    ttl: timedelta = CLAIM_TTL
    holder_finished: Callable[[str], bool] | None = None


def scope_label(tenant_id: str | None) -> str:
    return "all tenants" if tenant_id is None else f"tenant {tenant_id}"


def lock_scope(connection: sa.Connection, tenant_id: str | None) -> None:
    """Serialise check-and-claim between overlapping scopes until this transaction ends.

    PostgreSQL: a tenant run holds ``*`` shared and its tenant exclusive, an all-tenants run
    holds ``*`` exclusive; locks are always taken ``*`` first, so they cannot deadlock. SQLite
    write transactions are already one at a time (``BEGIN IMMEDIATE``).
    """
    if connection.dialect.name != "postgresql":
        return
    everyone = advisory_lock_key(LOCK_SCOPE, ALL_TENANTS_SCOPE)
    if tenant_id is None:
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": everyone})
        return
    connection.execute(sa.text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": everyone})
    connection.execute(
        sa.text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": advisory_lock_key(LOCK_SCOPE, tenant_id)},
    )


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


def claim_holder(
    plan: dict[str, Any], run_id: str, now: datetime, claims: ClaimPolicy
) -> str | None:
    """The other run whose claim on ``plan`` still stands, or None when ``run_id`` may act."""
    holder = plan.get("claimed_by_run")
    if not holder or holder == run_id:
        return None
    heartbeat = _utc(plan.get("claim_heartbeat_at"))
    if heartbeat is None or now - heartbeat > claims.ttl:
        return None
    if claims.holder_finished is not None and claims.holder_finished(str(holder)):
        return None
    return str(holder)


def busy_error(plan: dict[str, Any], holder: str, claims: ClaimPolicy) -> PurgeBusy:
    return PurgeBusy(
        f"purge plan {plan['plan_id']} ({scope_label(plan['scope_tenant_id'])}) is being "
        f"worked on by run {holder}: a purge of an overlapping scope does not run beside it. "
        f"Run it again once that run ends (a claim lapses {int(claims.ttl.total_seconds())} s "
        "after its last heartbeat)"
    )


def take_claim(
    connection: sa.Connection, plan_id: str, run_id: str, claims: ClaimPolicy
) -> dict[str, Any]:
    """In the caller's transaction: lock the plan's scope, refuse when another run holds the
    plan, else claim it for ``run_id``. Returns the plan row as read under the lock."""
    lock_scope(connection, plan_row(connection, plan_id)["scope_tenant_id"])
    plan = plan_row(connection, plan_id)
    now = datetime.now(UTC)
    holder = claim_holder(plan, run_id, now, claims)
    if holder is not None:
        raise busy_error(plan, holder, claims)
    set_plan(connection, plan_id, claimed_by_run=run_id, claim_heartbeat_at=now)
    return plan


NO_CLAIM: dict[str, Any] = {"claimed_by_run": None, "claim_heartbeat_at": None}


def release_claim(warehouse: WarehouseResource, plan_id: str, run_id: str) -> None:
    """Let the next run take the plan over at once (only ``run_id``'s own claim is released)."""
    with warehouse.begin() as connection:
        connection.execute(
            sa.update(purge_plans)
            .where(purge_plans.c.plan_id == plan_id, purge_plans.c.claimed_by_run == run_id)
            .values(updated_at=datetime.now(UTC), **NO_CLAIM)
        )


def renew_claim(
    connection: sa.Connection, plan_id: str, scope: str | None, run_id: str, batch_no: int
) -> None:
    """Under the scope lock: stop unless this run still holds the plan, then renew the claim."""
    lock_scope(connection, scope)
    holder = connection.execute(
        sa.select(purge_plans.c.claimed_by_run).where(purge_plans.c.plan_id == plan_id)
    ).scalar()
    if holder != run_id:
        raise PurgeBusy(
            f"run {run_id} no longer holds purge plan {plan_id} (claimed by "
            f"{holder or 'nobody'}): it stops before batch {batch_no}"
        )
    set_plan(connection, plan_id, claim_heartbeat_at=datetime.now(UTC))
