"""Where a run's steps execute, chosen per deployment without touching an asset.

``CM_EXECUTOR`` is read once, when the definitions load, and picks the executor every job uses:

- unset, ``default`` or ``in_process``: every step in the run's own process. One machine runs
  a call day in one process: the code location, pandas and Great Expectations are imported once
  per run, not once per step (with a process per step a 20-step call day paid 120-150 s of CPU
  in imports and GX contexts for 2-7 s of work; DESIGN.md). ``cm`` commands that run a job
  through ``instance.run_job`` execute in process whatever the profile.
- ``multiprocess``: a subprocess per step, at most ``CM_MAX_CONCURRENT_STEPS`` at once (a bigger
  machine whose steps are long enough to pay for their start-up).
- ``celery``: every step is a Celery task picked up by any worker listening on the broker
  ``CM_CELERY_BROKER_URL``; results come back through ``CM_CELERY_BACKEND_URL`` (default: the
  broker itself for Redis, ``rpc://`` for AMQP). ``CM_CELERY_KEY_PREFIX`` namespaces every Redis
  key, so several deployments (or test runs) can share one Redis.
- ``k8s``: every step in its own Kubernetes Job (``dagster-k8s``; see ``deploy/k8s``).

The broker and backend reach the executor as environment *references*: they are resolved where
the run executes, so credentials in a broker URL never land in a run's stored config.
Workers build the same Celery app from the same variables (``celery_worker_app``).

``dagster-celery`` and ``dagster-k8s`` are optional extras of the project: they are imported
inside the functions that need them, so a deployment without them loads the definitions, and
the default path never pays for Celery (``python -X importtime``: dagster-celery with Celery
adds about a tenth of dagster's own import time).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    from celery import Celery

EXECUTOR_ENV = "CM_EXECUTOR"
MAX_CONCURRENT_STEPS_ENV = "CM_MAX_CONCURRENT_STEPS"
BROKER_ENV = "CM_CELERY_BROKER_URL"
BACKEND_ENV = "CM_CELERY_BACKEND_URL"
KEY_PREFIX_ENV = "CM_CELERY_KEY_PREFIX"

EXECUTOR_MODES = ("default", "in_process", "multiprocess", "celery", "k8s")
CELERY_QUEUE = "dagster"
"""The queue dagster-celery routes every step to (steps may pick another with a
``dagster-celery/queue`` tag); workers listen on it."""

_REDIS_SCHEMES = ("redis", "rediss")
_AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")


class ExecutorConfigError(ValueError):
    """The execution profile in the environment is incomplete or unknown; says what to set."""


def _env(name: str, default: str = "") -> str:
    return str(dg.EnvVar(name).get_value(default=default) or "").strip()


def executor_mode() -> str:
    """The executor this deployment asked for through ``CM_EXECUTOR``."""
    mode = _env(EXECUTOR_ENV, "default").lower().replace("-", "_") or "default"
    if mode not in EXECUTOR_MODES:
        raise ExecutorConfigError(
            f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTOR_MODES)}; got an unknown mode"
        )
    return mode


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _broker_scheme() -> str:
    broker = _env(BROKER_ENV)
    if not broker:
        raise ExecutorConfigError(
            f"{EXECUTOR_ENV}=celery needs {BROKER_ENV}: a redis:// or amqp:// broker URL"
        )
    scheme = _scheme(broker)
    if scheme not in _REDIS_SCHEMES + _AMQP_SCHEMES:
        raise ExecutorConfigError(
            f"{BROKER_ENV} must be a redis://, rediss://, amqp:// or pyamqp:// URL"
        )
    return scheme


def _backend_source(broker_scheme: str) -> str | dict[str, str]:
    """Where task results go: as an environment reference, or ``rpc://`` (no secret in it)."""
    if _env(BACKEND_ENV):
        return {"env": BACKEND_ENV}
    if broker_scheme in _REDIS_SCHEMES:
        return {"env": BROKER_ENV}
    return "rpc://"


def celery_config_source() -> dict[str, Any]:
    """Celery settings shared by the executor and the workers (they must agree)."""
    from dagster_celery.defaults import broker_transport_options

    transport: dict[str, Any] = dict(broker_transport_options)
    prefix = _env(KEY_PREFIX_ENV)
    if prefix:
        transport["global_keyprefix"] = prefix
    return {
        "broker_transport_options": transport,
        "result_backend_transport_options": {"global_keyprefix": prefix} if prefix else {},
        "worker_prefetch_multiplier": 1,
        # a step that dies with its worker is redelivered instead of silently lost
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
    }


def celery_executor_config() -> dict[str, Any]:
    """Config of the ``celery_executor``: broker and backend as environment references."""
    scheme = _broker_scheme()
    return {
        "broker": {"env": BROKER_ENV},
        "backend": _backend_source(scheme),
        "config_source": celery_config_source(),
    }


def _celery_executor() -> dg.ExecutorDefinition:
    from dagster_celery import celery_executor

    return celery_executor.configured(celery_executor_config(), name="cm_celery")


def _k8s_executor() -> dg.ExecutorDefinition:
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError as exc:
        raise ExecutorConfigError(
            f"{EXECUTOR_ENV}=k8s needs dagster-k8s: install the project with its 'k8s' extra"
        ) from exc
    return k8s_job_executor


def _multiprocess_executor() -> dg.ExecutorDefinition:
    raw = _env(MAX_CONCURRENT_STEPS_ENV, "0")
    try:
        limit = int(raw)
    except ValueError:
        raise ExecutorConfigError(f"{MAX_CONCURRENT_STEPS_ENV} must be an integer") from None
    if limit < 0:
        raise ExecutorConfigError(f"{MAX_CONCURRENT_STEPS_ENV} must be 0 (one per CPU) or more")
    if limit == 0:
        return dg.multiprocess_executor
    return dg.multiprocess_executor.configured({"max_concurrent": limit}, name="cm_multiprocess")


def executor_for_deployment() -> dg.ExecutorDefinition:
    """The executor every job of the code location uses: in process unless a profile asks for
    steps elsewhere."""
    mode = executor_mode()
    if mode in ("default", "in_process"):
        return dg.in_process_executor
    if mode == "multiprocess":
        return _multiprocess_executor()
    if mode == "celery":
        return _celery_executor()
    return _k8s_executor()


def _resolve(source: str | Mapping[str, str]) -> str:
    if isinstance(source, Mapping):
        return _env(source["env"])
    return source


def celery_worker_app() -> Celery:
    """The Celery app a worker runs: the same broker, backend and settings as the executor, with
    dagster-celery's step, run and resume tasks registered."""
    from dagster._core.execution.retries import RetryMode
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

    config = celery_executor_config()
    executor = CeleryExecutor(
        retries=RetryMode(RetryMode.DISABLED),
        broker=_resolve(config["broker"]),
        backend=_resolve(config["backend"]),
        config_source=config["config_source"],
    )
    app = make_app(executor.app_args())
    create_task(app)
    create_execute_job_task(app)
    create_resume_job_task(app)
    return app


def celery_worker_command(
    name: str, *, concurrency: int = 1, loglevel: str = "INFO", pool: str = "prefork"
) -> list[str]:
    """The command line of one worker; ``name`` becomes its node name ``name@<host>``."""
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    return [
        celery,
        "-A",
        "cm_pipelines.platform.celery_worker",
        "worker",
        "-n",
        f"{name}@%h",
        "-Q",
        CELERY_QUEUE,
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        f"--loglevel={loglevel}",
        "--prefetch-multiplier=1",
        "--without-gossip",
        "--without-mingle",
    ]
