"""Jobs: what operators launch and schedules run. Each capability adds its jobs to ``ALL_JOBS``."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.assets.dsar import dsar_fulfillment_job
from cm_pipelines.partitions import call_day_partitions

tenants_sync_job = dg.define_asset_job(
    name="tenants_sync_job",
    selection=dg.AssetSelection.assets("tenants"),
    description="Load the validated tenants file into the warehouse.",
)

call_ingestion_job = dg.define_asset_job(
    name="call_ingestion_job",
    selection=dg.AssetSelection.groups("calls"),
    partitions_def=call_day_partitions,
    description="Ingest one call day from the landing zone, guarded by its quality checks.",
    tags={"cm/capability": "ingestion"},
)

call_volumes_job = dg.define_asset_job(
    name="call_volumes_job",
    selection=dg.AssetSelection.assets("call_day_volumes"),
    partitions_def=call_day_partitions,
    description="Recount daily call volumes per tenant; a backfill covers its range in one run.",
    tags={"cm/capability": "ingestion"},
)

housekeeping_job = dg.define_asset_job(
    name="housekeeping_job",
    selection=dg.AssetSelection.groups("platform"),
    description="Delete what finished runs left behind: step outputs kept in the object store.",
    tags={"cm/capability": "platform"},
)

trust_daily_job = dg.define_asset_job(
    name="trust_daily_job",
    selection=dg.AssetSelection.groups("trust"),
    description="Verify the audit chain (anchoring its head) and render the compliance overview.",
    tags={"cm/capability": "trust"},
)


retention_states_job = dg.define_asset_job(
    name="retention_states_job",
    selection=dg.AssetSelection.assets("retention_states"),
    description="Record every artefact's retention state (active, due, held, purged) for today.",
    tags={"cm/capability": "retention"},
)

retention_purge_job = dg.define_asset_job(
    name="retention_purge_job",
    selection=dg.AssetSelection.assets(
        "retention_purge_plan", "retention_purge_execution", "retention_proof_of_deletion"
    ),
    description=(
        "Plan (manifest stored first), guard (holds, policy age, circuit breaker), execute in "
        "batches with confirmed deletion, prove. A re-run finishes an unfinished plan."
    ),
    tags={"cm/capability": "retention"},
)


dsar_sla_job = dg.define_asset_job(
    name="dsar_sla_job",
    selection=dg.AssetSelection.groups("dsar"),
    description="List open data-subject requests by days left (check: none overdue) and delete "
    "expired access packages.",
    tags={"cm/capability": "dsar"},
)


dncr_registry_refresh_job = dg.define_asset_job(
    name="dncr_registry_refresh_job",
    selection=dg.AssetSelection.assets(
        "dncr_registry_snapshot", "dncr_registry_changes", "dncr_registry_promotion"
    ),
    description=(
        "Build the next version of do-not-call registries (full file, change lists or wash "
        "results), diff it, and promote it only after its blocking checks pass."
    ),
    tags={"cm/capability": "dncr"},
)

dncr_wash_job = dg.define_asset_job(
    name="dncr_wash_job",
    selection=dg.AssetSelection.assets(
        "dncr_consents",
        "dncr_wash_results",
        "dncr_blocked_calls",
        "dncr_allowed_exports",
        "dncr_wash_requests",
    ),
    description=(
        "Ingest consents, wash every campaign list against the active registry versions, "
        "export allowed lists and wash requests, record blocked calls."
    ),
    tags={"cm/capability": "dncr"},
)

ALL_JOBS: list = [
    tenants_sync_job,
    call_ingestion_job,
    call_volumes_job,
    housekeeping_job,
    trust_daily_job,
    retention_states_job,
    retention_purge_job,
    dsar_fulfillment_job,
    dsar_sla_job,
    dncr_registry_refresh_job,
    dncr_wash_job,
]
