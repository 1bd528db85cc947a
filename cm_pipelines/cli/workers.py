"""``cm worker``, ``cm backfill`` and ``cm launch``: the same jobs, spread over workers.

``cm worker`` starts one Celery worker for ``CM_EXECUTOR=celery``; ``cm backfill`` and
``cm launch`` run jobs through the deployment's executor (unlike ``cm demo``, which runs them in
this process), so their steps execute wherever the executor sends them. Output is JSON: run ids,
partitions and outcomes only.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from cm_pipelines.cli.command_context import acting_as, actor_option
from cm_pipelines.platform.executors import (
    ExecutorConfigError,
    celery_executor_config,
    executor_mode,
)
from cm_pipelines.platform.executors import celery_worker_command as build_command
from cm_pipelines.platform.instance import get_instance, prepare_dagster_home
from cm_pipelines.platform.launch import LaunchError, backfill, launch, partition_keys_between
from cm_pipelines.platform.run_tags import exclusive_tenant_tags
from cm_pipelines.resources.io_storage import IOStorageConfigError, io_storage_mode

RUN_CONFIG_HELP = 'Run config as JSON, e.g. \'{"ops": {"retention_purge_plan": {...}}}\'.'


def _parse_tags(values: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for value in values:
        key, separator, tag_value = value.partition("=")
        if not separator or not key:
            raise click.BadParameter("tags are KEY=VALUE", param_hint="--tag")
        tags[key] = tag_value
    return tags


def _parse_run_config(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not valid JSON (line {exc.lineno}, column {exc.colno})", param_hint="--run-config"
        ) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--run-config")
    return parsed


def _check_executor() -> str:

    try:
        storage = io_storage_mode()
        mode = executor_mode()
    except (ExecutorConfigError, IOStorageConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    _warn_if_outputs_stay_local(mode, storage)
    return mode


def _warn_if_outputs_stay_local(executor: str, io_storage: str) -> None:
    """Steps on several machines hand values over through storage they all reach; Dagster's
    default folder under DAGSTER_HOME is reachable only when DAGSTER_HOME is shared."""
    if executor in ("celery", "k8s") and io_storage == "filesystem":
        click.echo(
            f"warning: CM_EXECUTOR={executor} with CM_IO_STORAGE=filesystem: steps on other "
            "machines cannot read each other's outputs unless DAGSTER_HOME is shared; "
            "set CM_IO_STORAGE=object_store",
            err=True,
        )


@click.command("worker")
@click.option("--name", required=True, help="Node name of this worker (becomes NAME@host).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "solo", "threads"]),
    default="prefork",
    show_default=True,
    help="prefork: a child process per slot; solo: steps in the worker process itself.",
)
@click.option("--loglevel", default="INFO", show_default=True)
def worker_command(name: str, concurrency: int, pool: str, loglevel: str) -> None:
    """Start a Celery worker that executes the steps of runs using CM_EXECUTOR=celery."""

    try:
        celery_executor_config()
        storage = io_storage_mode()
    except (ExecutorConfigError, IOStorageConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    _warn_if_outputs_stay_local("celery", storage)
    home = prepare_dagster_home()
    command = build_command(name, concurrency=concurrency, loglevel=loglevel, pool=pool)
    env = dict(os.environ, DAGSTER_HOME=str(home))
    # replace this process: a supervisor's SIGTERM then reaches the worker itself (warm shutdown)
    os.execvpe(command[0], command, env)


def _echo_runs(runs: list[Any], executor: str) -> None:
    for run in runs:
        click.echo(json.dumps({**run.as_dict(), "executor": executor}, sort_keys=True))
    failed = [run.run_id for run in runs if not run.success]
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {len(runs)} run(s) failed: {', '.join(failed)}; "
            "open them in the UI (cm ui) for the step logs"
        )


@click.command("backfill")
@click.argument("job_name")
@click.option("--from", "first", required=True, help="First partition key (e.g. 2026-11-02).")
@click.option("--to", "last", required=True, help="Last partition key, inclusive.")
@click.option("--parallel", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE tag on every run.")
@click.option("--run-config", default=None, help=RUN_CONFIG_HELP)
@actor_option("launch jobs (data engineer)")
def backfill_command(
    job_name: str,
    first: str,
    last: str,
    parallel: int,
    tags: tuple[str, ...],
    run_config: str,
    actor: str | None,
) -> None:
    """Runs from --from to --to through the deployment's executor, split as the job's backfill
    policy says: a run per call day for ingestion, one run for the range for call volumes."""

    identity = acting_as(actor, "jobs.launch")
    executor = _check_executor()
    try:
        keys = partition_keys_between(job_name, first, last)
        runs = backfill(
            job_name,
            keys,
            instance=get_instance(),
            parallel_runs=parallel,
            run_config=_parse_run_config(run_config),
            tags={**_parse_tags(tags), "cm/actor": identity.actor},
        )
    except LaunchError as exc:
        raise click.ClickException(str(exc)) from None
    _echo_runs(runs, executor)


@click.command("launch")
@click.argument("job_name")
@click.option("--partition", default=None, help="Partition key, for partitioned jobs.")
@click.option(
    "--exclusive-tenant",
    default=None,
    help="Tag the run cm/exclusive_tenant=TENANT ('*' for every tenant): the run queue keeps "
    "two such runs of one tenant apart.",
)
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE tag on the run.")
@click.option("--run-config", default=None, help=RUN_CONFIG_HELP)
@actor_option("launch jobs (data engineer)")
def launch_command(
    job_name: str,
    partition: str | None,
    exclusive_tenant: str | None,
    tags: tuple[str, ...],
    run_config: str | None,
    actor: str | None,
) -> None:
    """Run one job now through the deployment's executor and wait for it."""

    identity = acting_as(actor, "jobs.launch")
    executor = _check_executor()
    run_tags = {**_parse_tags(tags), "cm/actor": identity.actor}
    if exclusive_tenant is not None:
        run_tags.update(exclusive_tenant_tags(exclusive_tenant))
    try:
        run = launch(
            job_name,
            instance=get_instance(),
            partition_key=partition,
            run_config=_parse_run_config(run_config),
            tags=run_tags,
        )
    except LaunchError as exc:
        raise click.ClickException(str(exc)) from None
    _echo_runs([run], executor)


def register(group: click.Group) -> None:
    for command in (worker_command, backfill_command, launch_command):
        group.add_command(command)
