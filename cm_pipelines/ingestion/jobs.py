"""Ingestion jobs: the tenants file, a call day from the landing zone, and call volumes."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.platform.partitions import call_day_partitions

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
