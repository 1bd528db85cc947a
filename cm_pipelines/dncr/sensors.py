"""A registry refresh as soon as new files land in a registry's source folder."""

from __future__ import annotations

import json

import dagster as dg

from cm_pipelines.dncr.jobs import dncr_registry_refresh_job
from cm_pipelines.dncr.run_config import refresh_run_config, source_fingerprints
from cm_pipelines.platform.automation import sensor_status
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource


@dg.sensor(
    name="dncr_registry_source_sensor",
    job=dncr_registry_refresh_job,
    minimum_interval_seconds=300,
    default_status=sensor_status(),
    description="Launches a registry refresh when files land in a registry's source folder.",
)
def dncr_registry_source_sensor(
    context: dg.SensorEvaluationContext,
    platform_config: PlatformConfigResource,
    object_store: ObjectStoreResource,
):
    seen = json.loads(context.cursor) if context.cursor else {}
    current = source_fingerprints(platform_config, object_store)
    changed = sorted(r for r, fingerprint in current.items() if seen.get(r) != fingerprint)
    context.update_cursor(json.dumps(current, sort_keys=True))
    if not changed:
        return dg.SkipReason("no new registry source files")
    return [
        dg.RunRequest(
            run_key=f"{registry_id}:{current[registry_id][:16]}",
            run_config=refresh_run_config([registry_id]),
            tags={"cm/registry": registry_id, "cm/trigger": "sensor"},
        )
        for registry_id in changed
    ]
