"""The one Definitions object of the code location."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.assets import call_volumes, calls, housekeeping, tenants
from cm_pipelines.assets import dncr as dncr_assets
from cm_pipelines.assets import dsar as dsar_assets
from cm_pipelines.assets import retention as retention_assets
from cm_pipelines.assets import trust as trust_assets
from cm_pipelines.executors import executor_for_deployment
from cm_pipelines.jobs import ALL_JOBS
from cm_pipelines.log_redaction import install_log_redaction
from cm_pipelines.quality_checks import calls as call_checks
from cm_pipelines.quality_checks import dncr as dncr_checks
from cm_pipelines.quality_checks import retention as retention_checks
from cm_pipelines.quality_checks import trust as trust_checks
from cm_pipelines.resources import default_resources
from cm_pipelines.schedules import ALL_SCHEDULES
from cm_pipelines.sensors import ALL_SENSORS

ASSET_MODULES = [
    tenants,
    calls,
    call_volumes,
    dncr_assets,
    trust_assets,
    retention_assets,
    dsar_assets,
    housekeeping,
]
CHECK_MODULES = [call_checks, dncr_checks, trust_checks, retention_checks, dsar_assets]

install_log_redaction()  # context.log, cm_pipelines loggers and stored step errors

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(ASSET_MODULES),
    asset_checks=dg.load_asset_checks_from_modules(CHECK_MODULES),
    jobs=ALL_JOBS,
    schedules=ALL_SCHEDULES,
    sensors=ALL_SENSORS,
    resources=default_resources(),  # CM_IO_STORAGE: filesystem (default) or object_store
    executor=executor_for_deployment(),  # CM_EXECUTOR: default, multiprocess, celery, k8s
)
