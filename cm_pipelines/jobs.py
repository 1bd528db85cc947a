"""Jobs: what operators launch and schedules run. Each capability adds its jobs to ``ALL_JOBS``."""

from __future__ import annotations

import dagster as dg

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

ALL_JOBS: list = [tenants_sync_job, call_ingestion_job]
