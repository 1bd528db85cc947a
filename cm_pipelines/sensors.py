"""Sensors. Each capability adds its sensors to ``ALL_SENSORS``."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.assets.dsar import REQUEST_TAG, fulfilment_run_config
from cm_pipelines.jobs import dncr_registry_refresh_job, dsar_fulfillment_job
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource


@dg.sensor(
    name="dsar_intake_sensor",
    job=dsar_fulfillment_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches dsar_fulfillment_job once per verified request (run key = request id).",
)
def dsar_intake_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    from cm_pipelines.dsar.requests_store import verified_requests
    from cm_pipelines.launch import exclusive_tenant_tags

    try:
        with warehouse.connect() as connection:
            waiting = verified_requests(connection)
    except sa.exc.SQLAlchemyError:
        return dg.SkipReason("the warehouse is not reachable or not initialised (cm init)")
    if not waiting:
        return dg.SkipReason("no verified request is waiting")
    return [
        dg.RunRequest(
            run_key=request_id,
            run_config=fulfilment_run_config(request_id),
            tags={
                REQUEST_TAG: request_id,
                "cm/trigger": "sensor",
                # an erasure deletes like a purge: never alongside another purge of the tenant
                **(exclusive_tenant_tags(tenant_id) if request_type == "erasure" else {}),
            },
        )
        for request_id, tenant_id, request_type in waiting
    ]


@dg.sensor(
    name="dncr_registry_source_sensor",
    job=dncr_registry_refresh_job,
    minimum_interval_seconds=300,
    description="Launches a registry refresh when files land in a registry's source folder.",
)
def dncr_registry_source_sensor(
    context: dg.SensorEvaluationContext,
    platform_config: PlatformConfigResource,
    object_store: ObjectStoreResource,
):
    import json

    from cm_pipelines.assets.dncr import refresh_run_config, source_fingerprints

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


ALL_SENSORS: list = [
    dsar_intake_sensor,
    dncr_registry_source_sensor,
]
