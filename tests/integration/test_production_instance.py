"""``deploy/dagster.production.yaml`` loads as written: run and event storage on PostgreSQL, step
logs uploaded to an S3-protocol bucket, the queued run coordinator with its limits and pools.

No ``from __future__ import annotations`` here: Dagster reads the op's ``context`` annotation.
"""

import shutil

import boto3
import dagster as dg
import pytest

from cm_pipelines.platform import settings
from tests.conftest import IN_CI, make_bucket
from tests.integration.scale_helpers import apply_env, dagster_storage_env

pytestmark = pytest.mark.integration
LOG_PREFIX = "cm-step-logs"


@dg.op
def say_hello(context: dg.OpExecutionContext) -> None:
    print("hello from a step")  # noqa: T201 - the captured stdout is what this test looks for
    context.log.info("step ran")


@dg.job
def hello_job() -> None:
    say_hello()


def test_production_instance_file(monkeypatch, tmp_path, postgres_url, s3_endpoint) -> None:
    if not IN_CI:  # CI installs every extra (Makefile `setup`): there a missing one fails
        pytest.importorskip("dagster_aws", reason="install the project's 'aws' extra")
    bucket = make_bucket(s3_endpoint)
    apply_env(
        monkeypatch,
        {
            **dagster_storage_env(postgres_url),
            "CM_DAGSTER_LOG_BUCKET": bucket,
            "CM_DAGSTER_LOG_PREFIX": LOG_PREFIX,
            "AWS_ENDPOINT_URL_S3": s3_endpoint,
        },
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(
        settings.project_root() / "deploy" / "dagster.production.yaml", home / "dagster.yaml"
    )

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert {limit["key"] for limit in concurrency.run_queue_config.tag_concurrency_limits} == {
            "cm/exclusive_tenant",
            "dagster/partition",
            "cm/registry",
        }
        result = hello_job.execute_in_process(instance=instance)
        assert result.success
        assert instance.get_run_record_by_id(result.run_id) is not None

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    stdout_keys = [key for key in keys if key.startswith(f"{LOG_PREFIX}/") and key.endswith(".out")]
    assert stdout_keys, f"no step stdout uploaded: {keys}"
    body = client.get_object(Bucket=bucket, Key=stdout_keys[0])["Body"].read()
    assert b"hello from a step" in body
