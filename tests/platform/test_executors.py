"""The execution profile: which executor CM_EXECUTOR selects, how the Celery profile is built
from the environment (broker, backend, key prefix) without a secret in its config, the worker
app, and the launch helpers and commands that go through it."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from click.testing import CliRunner

from cm_pipelines.platform import executors
from cm_pipelines.platform.executors import ExecutorConfigError, executor_for_deployment
from cm_pipelines.platform.launch import LaunchError, partition_keys_between
from cm_pipelines.platform.run_tags import EXCLUSIVE_TENANT_TAG, exclusive_tenant_tags
from tests.conftest import IN_CI

SECRET_BROKER = "amqp://cm:s3cret-pass@broker.internal:5672//"


@pytest.fixture(autouse=True)
def _no_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        executors.EXECUTOR_ENV,
        executors.MAX_CONCURRENT_STEPS_ENV,
        executors.BROKER_ENV,
        executors.BACKEND_ENV,
        executors.KEY_PREFIX_ENV,
    ):
        monkeypatch.delenv(name, raising=False)


def test_default_runs_every_step_in_the_runs_process(monkeypatch) -> None:
    assert executors.executor_mode() == "default"
    assert executor_for_deployment() is dg.in_process_executor
    monkeypatch.setenv("CM_EXECUTOR", "default")
    assert executor_for_deployment() is dg.in_process_executor


def test_in_process_and_multiprocess(monkeypatch) -> None:
    monkeypatch.setenv("CM_EXECUTOR", "in_process")
    assert executor_for_deployment() is dg.in_process_executor
    monkeypatch.setenv("CM_EXECUTOR", "multiprocess")
    assert executor_for_deployment() is dg.multiprocess_executor
    monkeypatch.setenv("CM_MAX_CONCURRENT_STEPS", "3")
    limited = executor_for_deployment()
    assert limited is not None and limited.name == "cm_multiprocess"
    monkeypatch.setenv("CM_MAX_CONCURRENT_STEPS", "many")
    with pytest.raises(ExecutorConfigError, match="CM_MAX_CONCURRENT_STEPS must be an integer"):
        executor_for_deployment()


def test_unknown_mode_is_refused_naming_the_choices(monkeypatch) -> None:
    monkeypatch.setenv("CM_EXECUTOR", "sparkle")
    with pytest.raises(ExecutorConfigError) as caught:
        executor_for_deployment()
    assert "celery" in str(caught.value) and "sparkle" not in str(caught.value)


def test_celery_needs_a_broker(monkeypatch) -> None:
    monkeypatch.setenv("CM_EXECUTOR", "celery")
    with pytest.raises(ExecutorConfigError, match="CM_CELERY_BROKER_URL"):
        executor_for_deployment()
    monkeypatch.setenv("CM_CELERY_BROKER_URL", "http://127.0.0.1:6379")
    with pytest.raises(ExecutorConfigError, match="redis://"):
        executor_for_deployment()


def test_celery_config_refers_to_the_environment_and_holds_no_secret(monkeypatch) -> None:
    monkeypatch.setenv("CM_EXECUTOR", "celery")
    monkeypatch.setenv("CM_CELERY_BROKER_URL", SECRET_BROKER)
    config = executors.celery_executor_config()
    assert config["broker"] == {"env": "CM_CELERY_BROKER_URL"}
    assert config["backend"] == "rpc://"  # AMQP: results come back as messages
    assert "s3cret" not in json.dumps(config)
    executor = executor_for_deployment()
    assert executor is not None and executor.name == "cm_celery"

    monkeypatch.setenv("CM_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    assert executors.celery_executor_config()["backend"] == {"env": "CM_CELERY_BROKER_URL"}
    monkeypatch.setenv("CM_CELERY_BACKEND_URL", "redis://127.0.0.1:6379/1")
    assert executors.celery_executor_config()["backend"] == {"env": "CM_CELERY_BACKEND_URL"}


def test_key_prefix_reaches_broker_and_results(monkeypatch) -> None:
    monkeypatch.setenv("CM_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("CM_CELERY_KEY_PREFIX", "tenant-a:")
    source = executors.celery_config_source()
    assert source["broker_transport_options"]["global_keyprefix"] == "tenant-a:"
    assert source["result_backend_transport_options"] == {"global_keyprefix": "tenant-a:"}
    assert source["worker_prefetch_multiplier"] == 1
    monkeypatch.delenv("CM_CELERY_KEY_PREFIX")
    assert "global_keyprefix" not in executors.celery_config_source()["broker_transport_options"]


def test_worker_app_matches_the_executor(monkeypatch) -> None:
    monkeypatch.setenv("CM_CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("CM_CELERY_KEY_PREFIX", "cm-unit:")
    app = executors.celery_worker_app()
    assert app.conf.broker_url == "redis://127.0.0.1:6379/3"
    assert app.conf.result_backend == "redis://127.0.0.1:6379/3"
    assert app.conf.broker_transport_options["global_keyprefix"] == "cm-unit:"
    assert {"execute_plan", "execute_job", "resume_job"} <= set(app.tasks)
    assert [queue.name for queue in app.conf.task_queues] == [executors.CELERY_QUEUE]


def test_worker_command_names_the_node_and_listens_on_the_step_queue() -> None:
    command = executors.celery_worker_command("cm-a", concurrency=2, pool="solo")
    assert command[1:4] == ["-A", "cm_pipelines.platform.celery_worker", "worker"]
    assert "cm-a@%h" in command and "dagster" in command
    assert "--concurrency=2" in command and "--pool=solo" in command


def test_k8s_job_executor(monkeypatch) -> None:
    if not IN_CI:
        pytest.importorskip("dagster_k8s", reason="install the project's 'k8s' extra")
    from dagster_k8s import k8s_job_executor

    monkeypatch.setenv("CM_EXECUTOR", "k8s")
    assert executor_for_deployment() is k8s_job_executor


def test_definitions_carry_the_selected_executor(monkeypatch) -> None:
    """A job picks up the code location's executor: the assets are never touched."""
    from cm_pipelines.ingestion.assets import tenants
    from cm_pipelines.resources import default_resources

    monkeypatch.setenv("CM_EXECUTOR", "celery")
    monkeypatch.setenv("CM_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    defs = dg.Definitions(
        assets=[tenants],
        jobs=[dg.define_asset_job("sync", selection="tenants")],
        resources=default_resources(),
        executor=executor_for_deployment(),
    )
    assert defs.resolve_job_def("sync").executor_def.name == "cm_celery"


def test_partition_ranges() -> None:
    assert partition_keys_between("call_ingestion_job", "2026-01-30", "2026-02-02") == [
        "2026-01-30",
        "2026-01-31",
        "2026-02-01",
        "2026-02-02",
    ]
    with pytest.raises(LaunchError, match="reversed"):
        partition_keys_between("call_ingestion_job", "2026-02-02", "2026-01-30")
    with pytest.raises(LaunchError, match="not a partition"):
        partition_keys_between("call_ingestion_job", "2024-12-31", "2025-01-02")
    with pytest.raises(LaunchError, match="not partitioned"):
        partition_keys_between("tenants_sync_job", "2026-01-01", "2026-01-02")
    with pytest.raises(LaunchError, match="unknown job"):
        partition_keys_between("no_such_job", "2026-01-01", "2026-01-02")


def test_exclusive_tenant_tags() -> None:
    assert exclusive_tenant_tags("gamma-sg") == {EXCLUSIVE_TENANT_TAG: "gamma-sg"}
    assert exclusive_tenant_tags(None) == {EXCLUSIVE_TENANT_TAG: "*"}


def test_commands_say_what_to_fix(monkeypatch) -> None:
    from cm_pipelines.cli.main import cm

    runner = CliRunner()
    monkeypatch.setenv("CM_EXECUTOR", "celery")
    result = runner.invoke(cm, ["worker", "--name", "a"])
    assert result.exit_code != 0 and "CM_CELERY_BROKER_URL" in result.output

    monkeypatch.setenv("CM_EXECUTOR", "in_process")
    result = runner.invoke(
        cm,
        [
            "backfill",
            "call_ingestion_job",
            "--from",
            "2026-02-02",
            "--to",
            "2026-01-01",
            "--actor",
            "dana",
        ],
    )
    assert result.exit_code != 0 and "reversed" in result.output
    result = runner.invoke(cm, ["launch", "no_such_job", "--actor", "dana"])
    assert result.exit_code != 0 and "unknown job" in result.output
    result = runner.invoke(
        cm, ["launch", "tenants_sync_job", "--tag", "no-equals-sign", "--actor", "dana"]
    )
    assert result.exit_code != 0 and "KEY=VALUE" in result.output
    result = runner.invoke(
        cm, ["launch", "tenants_sync_job", "--run-config", "[1]", "--actor", "dana"]
    )
    assert result.exit_code != 0 and "JSON object" in result.output


def test_distributed_executors_warn_when_outputs_stay_on_one_machine(monkeypatch) -> None:
    from cm_pipelines.cli.main import cm

    runner = CliRunner()
    monkeypatch.setenv("CM_EXECUTOR", "k8s")
    monkeypatch.delenv("CM_IO_STORAGE", raising=False)
    result = runner.invoke(
        cm,
        [
            "backfill",
            "call_ingestion_job",
            "--from",
            "2026-02-02",
            "--to",
            "2026-01-01",
            "--actor",
            "dana",
        ],
    )
    assert "CM_IO_STORAGE=object_store" in result.stderr
    monkeypatch.setenv("CM_IO_STORAGE", "object_store")
    result = runner.invoke(
        cm,
        [
            "backfill",
            "call_ingestion_job",
            "--from",
            "2026-02-02",
            "--to",
            "2026-01-01",
            "--actor",
            "dana",
        ],
    )
    assert "CM_IO_STORAGE" not in result.stderr and "reversed" in result.output
    monkeypatch.setenv("CM_EXECUTOR", "in_process")
    monkeypatch.delenv("CM_IO_STORAGE")
    result = runner.invoke(
        cm,
        [
            "backfill",
            "call_ingestion_job",
            "--from",
            "2026-02-02",
            "--to",
            "2026-01-01",
            "--actor",
            "dana",
        ],
    )
    assert "warning" not in result.stderr
