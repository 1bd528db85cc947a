"""Entry point of a Celery worker: ``celery -A cm_pipelines.platform.celery_worker worker ...``.

Celery finds ``app`` by importing this module, so the app is built here, from the same
``CM_CELERY_*`` variables the executor reads (``cm_pipelines.platform.executors``). Nothing else imports
this module: the definitions themselves never read the broker at import time.
"""

from __future__ import annotations

from celery.app import trace

import cm_pipelines.definitions  # noqa: F401  loaded once here, not by every worker's first step
from cm_pipelines.platform.executors import celery_worker_app

# A step's result is its list of Dagster events (metadata, messages): they belong in the run's
# event log, not repeated in the worker's log.
trace.LOG_SUCCESS = "Task %(name)s[%(id)s] succeeded in %(runtime)ss"

app = celery_worker_app()
