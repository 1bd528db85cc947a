"""Runs handed to the deployment's executor, and backfills split along their natural key.

``instance.run_job`` executes a job in the calling process whatever the executor (right for
``cm demo`` and tests). The helpers here go through ``dagster.execute_job`` instead, so the
executor chosen by ``CM_EXECUTOR`` really distributes the steps: on Celery, every step of every
run becomes a task that any worker may pick up. A backfill follows the backfill policy of the
job's assets, like a backfill from the UI: ingestion is one run per call day, several in flight
at once, which is what lets many workers share a month of call data; a job whose assets all
cover a range in one run (``call_volumes_job``) gets a single run for the whole range.

These runs start directly, not through the run queue: the queue's tag limits apply to runs the
daemon launches (UI, schedules, sensors, UI backfills). Runs started here rely on the
database-level guards (``cm_pipelines.resources.locks.lock_partition``) instead.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository

from cm_pipelines.platform.run_tags import BACKFILL_TAG, partition_range_tags

DEFINITIONS_MODULE = "cm_pipelines.definitions"
DEFINITIONS_ATTRIBUTE = "defs"
MAX_PARALLEL_RUNS = 16


class LaunchError(ValueError):
    """A launch request that cannot be honoured (unknown job, bad partition range)."""


@dataclass(frozen=True)
class LaunchedRun:
    """What a launched run ended as; details are in the run's event log (the UI).

    ``partition_key`` is one key, or ``first...last`` for a run over a range of partitions."""

    run_id: str
    job_name: str
    partition_key: str | None
    success: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job": self.job_name,
            "partition": self.partition_key,
            "success": self.success,
        }


def _definitions() -> dg.Definitions:
    """The code location's definitions, loaded when a run is launched (not at import): the
    definitions import the platform, so the platform may only reach back for them at run time."""
    from cm_pipelines.definitions import defs

    return defs


def _job_definition(job_name: str) -> dg.JobDefinition:
    try:
        return _definitions().resolve_job_def(job_name)
    except dg.DagsterInvariantViolationError:
        raise LaunchError(f"unknown job {job_name!r}: see `dagster job list` or the UI") from None


def reconstructable_job(job_name: str):  # -> ReconstructableJob (an internal Dagster type)
    """A pointer any process (a subprocess, a Celery worker) can rebuild the job from."""
    _job_definition(job_name)
    repository = ReconstructableRepository.for_module(DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE)
    return repository.get_reconstructable_job(job_name)


def partition_keys_between(job_name: str, first: str, last: str) -> list[str]:
    """Every partition key of a partitioned job from ``first`` to ``last`` inclusive."""
    job = _job_definition(job_name)
    partitions = job.partitions_def
    if partitions is None:
        raise LaunchError(f"{job_name} is not partitioned: launch it without a partition range")
    keys = list(partitions.get_partition_keys())
    for key in (first, last):
        if key not in keys:
            raise LaunchError(f"partition {key!r} is not a partition of {job_name}")
    start, end = keys.index(first), keys.index(last)
    if start > end:
        raise LaunchError(f"the partition range is reversed: {first} comes after {last}")
    return keys[start : end + 1]


def partitions_per_run(job_name: str) -> int | None:
    """How many partitions one run of the job may cover: the smallest limit among its assets'
    backfill policies (no policy: one). ``None``: every asset takes any range in one run."""
    defs = _definitions()
    job = _job_definition(job_name)
    limits: list[int | None] = []
    for key in sorted(job.asset_layer.executable_asset_keys):
        policy = defs.resolve_assets_def(key).backfill_policy
        limits.append(1 if policy is None else policy.max_partitions_per_run)
    bounded = [limit for limit in limits if limit is not None]
    if bounded:
        return min(bounded)
    return None if limits else 1


def plan_backfill_runs(partition_keys: Sequence[str], per_run: int | None) -> list[tuple[str, ...]]:
    """Consecutive partition keys grouped into runs of at most ``per_run`` keys (all in one
    run when ``None``), in partition order."""
    if per_run is not None and per_run < 1:
        raise LaunchError("a run must cover at least one partition")
    keys = tuple(partition_keys)
    if not keys:
        return []
    size = len(keys) if per_run is None else per_run
    return [keys[start : start + size] for start in range(0, len(keys), size)]


def _run_partition_tags(keys: Sequence[str]) -> tuple[str, dict[str, str]]:
    """The label and tags of a run over ``keys``: one partition, or a range of them."""
    if len(keys) == 1:
        return keys[0], {"dagster/partition": keys[0]}
    return f"{keys[0]}...{keys[-1]}", partition_range_tags(keys[0], keys[-1])


def _quiet_console(run_config: Mapping[str, Any] | None) -> dict[str, Any]:
    config = dict(run_config or {})
    config.setdefault("loggers", {"console": {"config": {"log_level": "WARNING"}}})
    return config


def launch(
    job_name: str,
    *,
    instance: dg.DagsterInstance,
    partition_key: str | None = None,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    partition_keys: Sequence[str] | None = None,
) -> LaunchedRun:
    """Execute one run with the deployment's executor and wait for it to finish; the run
    covers ``partition_key``, or every key of ``partition_keys`` (consecutive) at once."""
    if partition_key is not None and partition_keys:
        raise LaunchError("give one partition or a range of partitions, not both")
    run_tags = dict(tags or {})
    label = partition_key
    if partition_key is not None:
        run_tags["dagster/partition"] = partition_key
    elif partition_keys:
        label, range_tags = _run_partition_tags(partition_keys)
        run_tags.update(range_tags)
    result = dg.execute_job(
        reconstructable_job(job_name),
        instance=instance,
        run_config=_quiet_console(run_config),
        tags=run_tags,
        raise_on_error=False,
    )
    return LaunchedRun(result.run_id, job_name, label, bool(result.success))


def backfill(
    job_name: str,
    partition_keys: Sequence[str],
    *,
    instance: dg.DagsterInstance,
    parallel_runs: int = 1,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> list[LaunchedRun]:
    """Runs over ``partition_keys`` as the job's backfill policy splits them
    (``partitions_per_run``), ``parallel_runs`` in flight at once, all tagged with one backfill
    id; returns the runs in partition order. A failed run does not stop the others."""
    if not partition_keys:
        raise LaunchError("a backfill needs at least one partition")
    if not 1 <= parallel_runs <= MAX_PARALLEL_RUNS:
        raise LaunchError(f"parallel runs must be between 1 and {MAX_PARALLEL_RUNS}")
    backfill_tags = {BACKFILL_TAG: f"bf-{uuid.uuid4().hex[:12]}", **dict(tags or {})}
    reconstructable_job(job_name)  # fail before the first run on an unknown job
    planned = plan_backfill_runs(partition_keys, partitions_per_run(job_name))
    if parallel_runs == 1 or len(planned) == 1:
        return [
            launch(
                job_name,
                instance=instance,
                partition_keys=keys,
                run_config=run_config,
                tags=backfill_tags,
            )
            for keys in planned
        ]
    # Dagster's run orchestration reconfigures logging per run and is not thread-safe (two runs
    # in threads of one process deadlock on the logging locks): each run gets its own process,
    # forked from a clean server that loaded the definitions once.
    reference = instance.get_ref()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([DEFINITIONS_MODULE])
    with ProcessPoolExecutor(max_workers=parallel_runs, mp_context=context) as pool:
        futures = [
            pool.submit(
                _launch_from_reference,
                job_name,
                keys,
                reference,
                dict(run_config or {}),
                backfill_tags,
            )
            for keys in planned
        ]
        return [future.result() for future in futures]


def _launch_from_reference(
    job_name: str,
    partition_keys: tuple[str, ...],
    reference: Any,
    run_config: dict[str, Any],
    tags: dict[str, str],
) -> LaunchedRun:
    with dg.DagsterInstance.from_ref(reference) as instance:
        return launch(
            job_name,
            instance=instance,
            partition_keys=partition_keys,
            run_config=run_config,
            tags=tags,
        )
