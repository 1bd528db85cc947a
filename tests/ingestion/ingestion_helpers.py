"""Helpers for ingestion tests: run a call day through the real assets and checks."""

from __future__ import annotations

from datetime import date
from typing import Any

import dagster as dg

from cm_pipelines.ingestion import assets as call_assets
from cm_pipelines.ingestion import checks as call_checks
from cm_pipelines.platform.partitions import call_day_partitions

INGESTION_ASSETS = dg.load_assets_from_modules([call_assets])
CHECKS = dg.load_asset_checks_from_modules([call_checks])


def ingestion_definitions(resources: dict[str, Any]) -> dg.Definitions:
    return dg.Definitions(
        assets=INGESTION_ASSETS,
        asset_checks=CHECKS,
        jobs=[
            dg.define_asset_job(
                "ingest_day",
                selection=dg.AssetSelection.groups("calls"),
                partitions_def=call_day_partitions,
            ),
        ],
        resources=resources,
    )


def ingest_day(resources: dict[str, Any], day: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
    defs = ingestion_definitions(resources)
    return defs.resolve_job_def("ingest_day").execute_in_process(
        partition_key=day, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, **kwargs
    )


def check_day(resources: dict[str, Any], day: str) -> dict[str, dg.AssetCheckResult]:
    """Evaluate every ingestion check of a day against the current warehouse and store."""
    warehouse, when = resources["warehouse"], date.fromisoformat(day)
    return {
        **call_checks.evaluate_call_day(warehouse, when),
        "recordings_linked_to_calls": call_checks.evaluate_recordings_linked(
            warehouse, resources["object_store"], resources["platform_config"], when
        ),
    }


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization is not None and materialization.asset_key.path == [asset]:
            return {key: value.value for key, value in materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialised")
