"""How purge runs are asked for: one run per tenant, never beside a purge still in flight,
and claims of runs the instance knows have ended (or whose process died) lapse at once."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.platform.run_liveness import run_is_dead
from cm_pipelines.platform.run_tags import ALL_TENANTS, EXCLUSIVE_TENANT_TAG, exclusive_tenant_tags
from cm_pipelines.retention.purge.claims import ClaimPolicy

IN_FLIGHT_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def claim_policy(instance: dg.DagsterInstance) -> ClaimPolicy:
    """Claims of runs this instance knows have ended, or whose process is known dead (a
    SIGKILLed ``cm retention purge``), lapse at once (no waiting out the TTL)."""

    def holder_finished(run_id: str) -> bool:
        return run_is_dead(instance.get_run_by_id(run_id))

    return ClaimPolicy(holder_finished=holder_finished)


def purge_run_config(tenant_id: str | None) -> dict:
    return {"ops": {"retention_purge_plan": {"config": {"tenant": tenant_id or ""}}}}


def purge_run_requests(
    instance: dg.DagsterInstance, tenant_ids: list[str], day: str, job_name: str
) -> list[dg.RunRequest] | dg.SkipReason:
    """One purge run per tenant, tagged ``cm/exclusive_tenant``; a tenant whose purge is still
    in flight is skipped (its next run resumes the plan), and every tenant while an
    all-tenants purge is in flight."""
    in_flight = instance.get_run_records(
        filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT_STATUSES)
    )
    busy = {record.dagster_run.tags.get(EXCLUSIVE_TENANT_TAG, ALL_TENANTS) for record in in_flight}
    if ALL_TENANTS in busy:
        return dg.SkipReason("an all-tenants purge is still in flight; the next night resumes")
    requests = [
        dg.RunRequest(
            run_key=f"{tenant_id}:{day}",
            run_config=purge_run_config(tenant_id),
            tags={
                "cm/trigger": "schedule",
                "cm/actor": "schedule",
                **exclusive_tenant_tags(tenant_id),
            },
        )
        for tenant_id in sorted(tenant_ids)
        if tenant_id not in busy
    ]
    if not requests:
        return dg.SkipReason("every tenant's purge is still in flight; the next night resumes")
    return requests
