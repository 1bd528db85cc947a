"""The one Definitions object of the code location: each capability's own, merged.

Every capability package (ingestion, dncr, retention, dsar, crm_delivery, trust, housekeeping,
operations, access) owns its assets, checks, jobs, schedules and sensors in its ``definitions.py``; what
they share is added here once: the resources (``CM_IO_STORAGE`` picks where step outputs go) and the executor
(``CM_EXECUTOR``).
"""

from __future__ import annotations

import dagster as dg

from cm_pipelines.access import definitions as access
from cm_pipelines.crm_delivery import definitions as crm_delivery
from cm_pipelines.dncr import definitions as dncr
from cm_pipelines.dsar import definitions as dsar
from cm_pipelines.housekeeping import definitions as housekeeping
from cm_pipelines.ingestion import definitions as ingestion
from cm_pipelines.operations import definitions as operations
from cm_pipelines.platform.executors import executor_for_deployment
from cm_pipelines.platform.log_redaction import install_log_redaction
from cm_pipelines.resources import default_resources
from cm_pipelines.retention import definitions as retention
from cm_pipelines.trust import definitions as trust

install_log_redaction()  # context.log, cm_pipelines loggers and stored step errors

defs = dg.Definitions.merge(
    ingestion.defs,
    dncr.defs,
    retention.defs,
    dsar.defs,
    trust.defs,
    housekeeping.defs,
    operations.defs,
    crm_delivery.defs,
    access.defs,
    dg.Definitions(resources=default_resources(), executor=executor_for_deployment()),
)
