"""Verified requests start their fulfilment run by themselves, once each (run key = id)."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.dsar.jobs import dsar_fulfillment_job
from cm_pipelines.dsar.request_records import verified_requests
from cm_pipelines.dsar.run_config import REQUEST_TAG, fulfilment_run_config
from cm_pipelines.platform.automation import sensor_status
from cm_pipelines.platform.run_tags import exclusive_tenant_tags
from cm_pipelines.resources.warehouse import WarehouseResource


@dg.sensor(
    name="dsar_intake_sensor",
    job=dsar_fulfillment_job,
    minimum_interval_seconds=60,
    default_status=sensor_status(),
    description="Launches dsar_fulfillment_job once per verified request (run key = request id).",
)
def dsar_intake_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
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
