"""The project's Dagster instance: runs launched from ``cm`` land where the UI reads them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from cm_pipelines.platform import settings
from cm_pipelines.platform.run_liveness import process_tags


def instance_template() -> Path:
    """``deploy/dagster.<kind>.yaml`` for ``CM_DAGSTER_STORAGE`` = sqlite (default), postgres or
    production (PostgreSQL storage plus S3 compute logs and production queue limits)."""
    kind = str(dg.EnvVar("CM_DAGSTER_STORAGE").get_value(default="sqlite"))
    if kind not in ("sqlite", "postgres", "production"):
        raise ValueError("CM_DAGSTER_STORAGE must be 'sqlite', 'postgres' or 'production'")
    return settings.project_root() / "deploy" / f"dagster.{kind}.yaml"


def prepare_dagster_home() -> Path:
    """Create DAGSTER_HOME with the project's instance file and point this process at it."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    template = instance_template()
    if not target.exists() or target.read_bytes() != template.read_bytes():
        shutil.copyfile(template, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


_CONSOLE_LEVEL = ["WARNING"]


def _console_level() -> str:
    return _CONSOLE_LEVEL[-1]


@contextmanager
def console_log_level(level: str) -> Iterator[None]:
    """Runs started inside this block print only ``level`` and above to the terminal; the
    instance (and so the UI) still records every event."""
    _CONSOLE_LEVEL.append(level)
    try:
        yield
    finally:
        _CONSOLE_LEVEL.pop()


def get_instance() -> dg.DagsterInstance:
    prepare_dagster_home()
    return dg.DagsterInstance.get()


def run_job(
    job_name: str,
    *,
    instance: dg.DagsterInstance | None = None,
    partition_key: str | None = None,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = False,
) -> dg.ExecuteInProcessResult:
    """Execute a job of the code location in this process, recorded in the project's instance."""
    # loaded at run time, not import: the definitions import the platform
    from cm_pipelines.definitions import defs

    job = defs.resolve_job_def(job_name)
    config = dict(run_config or {})
    # The run's events all go to the instance (the UI); the terminal only hears warnings.
    config.setdefault("loggers", {"console": {"config": {"log_level": _console_level()}}})
    return job.execute_in_process(
        instance=instance or get_instance(),
        partition_key=partition_key,
        run_config=config,
        # the whole run executes in this process: a later run can tell if it was killed
        tags={**process_tags(), **dict(tags or {})},
        raise_on_error=raise_on_error,
    )
