"""The same jobs on two Celery workers: an ingestion backfill over several call days, a
tenant-scoped retention purge and a DSAR access request, with Dagster's run and event storage and the
warehouse on PostgreSQL and the landing zone on an S3-protocol server. Steps must have run on
both workers (and nowhere else), and the warehouse must end exactly as after an in-process run
of the same world. Values passed between steps go through the bucket (``CM_IO_STORAGE=
object_store``), not through ``$DAGSTER_HOME/storage``. Under CI=true a missing broker fails
the test."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import dagster as dg
import pytest

from tests.conftest import _fresh_postgres_database, make_bucket
from tests.integration.scale_helpers import (
    CM_EXECUTABLE,
    IDENTIFIER_HASH_KEY,
    WorkerPool,
    apply_env,
    broker_or_fail,
    dagster_storage_env,
    finish_cm,
    forget_broker_keys,
    snapshot,
    start_cm,
    stop_cm,
    unique_key_prefix,
)

pytestmark = pytest.mark.integration

BROKER_URL = os.environ.get("CM_TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
DAYS = 3
SEED = 11
CALLS = 60
# gamma-sg keeps recordings and transcripts 30 days: a world 50 days old has them due
WORLD_AGE_DAYS = 50
PURGED_TENANT = "gamma-sg"
PURGE_CONFIG = {
    "ops": {"retention_purge_plan": {"config": {"tenant": PURGED_TENANT, "max_tenant_share": 1.0}}}
}
# an access request changes none of the compared tables; its package is built on a worker and
# its key, sealed to the privacy team's public key, is collected from here
REQUESTING_TENANT = "beta-us"
DSAR_STEPS = ("dsar_gate", "dsar_locate", "dsar_execute", "dsar_verify")
WORKER_NAMES = ("cm-a", "cm-b")


@pytest.fixture
def reference_postgres_url() -> Iterator[str]:
    yield from _fresh_postgres_database()


def _where_steps_ran(instance: dg.DagsterInstance, run_id: str) -> tuple[set[str], set[int]]:
    """Worker node names from the executor's hand-over events, and the pids steps started in."""
    workers: set[str] = set()
    pids: set[int] = set()
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type_value == "ENGINE_EVENT" and event.event_specific_data is not None:
            node = event.event_specific_data.metadata.get("Celery worker")  # type: ignore[union-attr]
            if node is not None:
                workers.add(str(node.value))
        if event.event_type_value == "STEP_START" and event.pid is not None:
            pids.add(int(event.pid))
    return workers, pids


def _stored_run_outputs(store, run_id: str) -> dict[tuple[str, str], list[object]]:
    """(step key, output name) -> the values the IO manager stored in the bucket for a run."""
    from cm_pipelines.resources.io_storage import DEFAULT_IO_PREFIX

    prefix = f"{DEFAULT_IO_PREFIX}/runs/{run_id}"
    stored: dict[tuple[str, str], list[object]] = {}
    for item in store.list_files(prefix):
        step_key, output_name = (
            unquote(part) for part in item.path[len(prefix) + 1 :].split("/")[:2]
        )
        stored.setdefault((step_key, output_name), []).append(
            pickle.loads(store.read_bytes(item.path))
        )
    return stored


def _handed_over(instance: dg.DagsterInstance, run_id: str) -> set[tuple[str, str]]:
    """(upstream step key, output name) of every input a step of the run loaded through the
    IO manager from another step of the same run."""
    handed: set[tuple[str, str]] = set()
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.event_type_value != "LOADED_INPUT":
            continue
        data = event.event_specific_data
        if data.manager_key == "io_manager" and data.upstream_step_key:  # type: ignore[union-attr]
            handed.add((data.upstream_step_key, data.upstream_output_name))  # type: ignore[union-attr]
    return handed


def test_backfill_and_purge_on_two_celery_workers_match_an_in_process_run(
    monkeypatch, tmp_path, postgres_url, second_postgres_url, reference_postgres_url, s3_endpoint
) -> None:
    from cm_pipelines.cli.project import generate, initialise
    from cm_pipelines.domain.dsar.export_package import decrypt_package
    from cm_pipelines.domain.dsar.sealed_keys import generate_key_pair
    from cm_pipelines.dsar import key_handoff
    from cm_pipelines.dsar.run_config import fulfilment_run_config
    from cm_pipelines.platform.instance import get_instance, run_job
    from cm_pipelines.resources import (
        ObjectStoreResource,
        PlatformConfigResource,
        WarehouseResource,
    )
    from tests.dsar.dsar_helpers import submit

    broker_or_fail(BROKER_URL)
    key_prefix = unique_key_prefix()
    privacy_team_private, privacy_team_public = generate_key_pair()
    private_key_file = tmp_path / "privacy-team.key"
    private_key_file.write_bytes(privacy_team_private)
    start = datetime.now(UTC).date() - timedelta(days=WORLD_AGE_DAYS)
    days = [(start + timedelta(days=offset)).isoformat() for offset in range(DAYS)]
    distributed = {
        "CM_WAREHOUSE_URL": postgres_url,
        "CM_STORAGE_URL": f"s3://{make_bucket(s3_endpoint)}/cm",
        # every tenant is a "large" tenant: each call day is ingested a step per tenant
        "CM_INGEST_SLICE_BYTES": "1",
    }
    apply_env(
        monkeypatch,
        {
            **distributed,
            **dagster_storage_env(second_postgres_url),
            "CM_S3_ENDPOINT_URL": s3_endpoint,
            "CM_IDENTIFIER_HASH_KEY": IDENTIFIER_HASH_KEY,
            "CM_EXECUTOR": "celery",
            "CM_CELERY_BROKER_URL": BROKER_URL,
            "CM_CELERY_KEY_PREFIX": key_prefix,
            # the workers and `cm` read it from this environment, as on separate machines
            "CM_IO_STORAGE": "object_store",
            "CM_DSAR_KEY_RECIPIENT": privacy_team_public.hex(),
        },
    )
    initialise()
    world = generate(SEED, CALLS, None, True, DAYS, start)
    assert world.calls_by_tenant.get(PURGED_TENANT)
    requester = next(s for s in world.subjects if s["tenant_id"] == REQUESTING_TENANT)
    request_id = submit(
        {"warehouse": WarehouseResource(), "platform_config": PlatformConfigResource()},
        REQUESTING_TENANT,
        "access",
        [("phone", requester["e164"])],
    )

    env = dict(os.environ)
    pool = WorkerPool(tmp_path, env)
    backfill = dsar = None
    try:
        for name in WORKER_NAMES:
            pool.start(name)
        # Steps wait in the broker until a worker is ready to take them.
        backfill = start_cm(
            [
                "backfill",
                "call_ingestion_job",
                "--from",
                days[0],
                "--to",
                days[-1],
                "--parallel",
                "2",
                "--actor",
                "dana",
            ],
            env,
        )
        # and an op job (gate -> locate -> execute -> verify -> complete): its steps hand the
        # request id to each other through the bucket
        dsar = start_cm(
            [
                "launch",
                "dsar_fulfillment_job",
                "--run-config",
                json.dumps(fulfilment_run_config(request_id)),
                "--actor",
                "dana",
            ],
            env,
        )

        # Meanwhile the reference, in this process, on its own warehouse and bucket.
        reference = {
            "CM_WAREHOUSE_URL": reference_postgres_url,
            "CM_STORAGE_URL": f"s3://{make_bucket(s3_endpoint)}/cm",
        }
        apply_env(monkeypatch, reference)
        monkeypatch.delenv("CM_INGEST_SLICE_BYTES")  # the reference ingests each day in one step
        WarehouseResource().upgrade()
        reference_instance = dg.DagsterInstance.ephemeral()
        assert run_job("tenants_sync_job", instance=reference_instance).success
        assert generate(SEED, CALLS, None, True, DAYS, start).paths == world.paths
        for day in days:
            assert run_job(
                "call_ingestion_job", instance=reference_instance, partition_key=day
            ).success
        reference_purge = run_job(
            "retention_purge_job", instance=reference_instance, run_config=PURGE_CONFIG
        )
        assert reference_purge.success
        apply_env(monkeypatch, distributed)

        pool.wait_ready()
        backfill_runs = finish_cm(backfill, timeout_s=120)
        dsar_runs = finish_cm(dsar, timeout_s=60)
        purge_runs = finish_cm(
            start_cm(
                [
                    "launch",
                    "retention_purge_job",
                    "--exclusive-tenant",
                    PURGED_TENANT,
                    "--run-config",
                    json.dumps(PURGE_CONFIG),
                    "--actor",
                    "dana",
                ],
                env,
            ),
            timeout_s=90,
        )
    finally:
        for process in (backfill, dsar):
            stop_cm(process)
        pool.stop()
        forget_broker_keys(BROKER_URL, key_prefix)

    assert [run["partition"] for run in backfill_runs] == days
    launched = backfill_runs + purge_runs + dsar_runs
    assert all(run["success"] and run["executor"] == "celery" for run in launched)

    instance = get_instance()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    worker_pids = {worker.process.pid for worker in pool.workers}
    seen_workers: set[str] = set()
    seen_pids: set[int] = set()
    for run in launched:
        record = instance.get_run_record_by_id(run["run_id"])
        assert record is not None and record.dagster_run.is_success
        workers, pids = _where_steps_ran(instance, run["run_id"])
        assert workers and pids, f"run {run['run_id']} executed no step on a worker"
        seen_workers |= workers
        seen_pids |= pids
    tenants_per_day = len(world.calls_by_tenant)
    for run in backfill_runs:
        slice_steps = [
            event.step_key
            for event in instance.all_logs(run["run_id"])
            if event.dagster_event is not None
            and event.dagster_event.event_type_value == "STEP_SUCCESS"
            and "call_records_ingest_tenant_slice[" in str(event.dagster_event.step_key)
        ]
        assert len(slice_steps) == tenants_per_day, "a call day is split into a step per tenant"
    purge_run = instance.get_run_record_by_id(purge_runs[0]["run_id"])
    assert purge_run is not None
    assert purge_run.dagster_run.tags["cm/exclusive_tenant"] == PURGED_TENANT
    assert {node.split("@", 1)[0] for node in seen_workers} == set(WORKER_NAMES)
    assert seen_pids == worker_pids, "every step ran in a worker, and both workers ran steps"

    # Values passed between steps went through the bucket, never through DAGSTER_HOME
    bucket = ObjectStoreResource(url=distributed["CM_STORAGE_URL"], s3_endpoint_url=s3_endpoint)
    dsar_run_id = dsar_runs[0]["run_id"]
    dsar_outputs = _stored_run_outputs(bucket, dsar_run_id)
    assert dsar_outputs == {(step, "result"): [request_id] for step in DSAR_STEPS}
    assert _handed_over(instance, dsar_run_id) == set(dsar_outputs)
    default_storage = Path(os.environ["DAGSTER_HOME"]) / "storage"  # Dagster's default IO
    for run in launched:
        handed = _handed_over(instance, run["run_id"])
        assert handed <= set(_stored_run_outputs(bucket, run["run_id"])), run["job"]
        for step_key, output_name in handed:
            assert not (default_storage / run["run_id"] / step_key / output_name).exists()

    # The package was built on a worker; its key waits sealed in the bucket, for any machine
    assert key_handoff.read_dropped_key(request_id) is None
    sealed_path = key_handoff.sealed_key_path(request_id)
    assert bucket.exists(sealed_path)
    collected = subprocess.run(
        [
            CM_EXECUTABLE,
            "dsar",
            "key",
            request_id,
            "--private-key",
            str(private_key_file),
            "--actor",
            "priya",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr[-2000:]
    [package_path] = [item.path for item in bucket.list_files("exports") if request_id in item.path]
    associated, _ = decrypt_package(
        bucket.read_bytes(package_path), bytes.fromhex(collected.stdout.strip())
    )
    assert associated == request_id
    assert not bucket.exists(sealed_path)

    distributed_state = snapshot(postgres_url)
    reference_state = snapshot(reference_postgres_url)
    assert sum(len(rows) for rows in distributed_state.values()) > 0
    assert distributed_state["retention_tombstones"], "the purge deleted nothing"
    for table, rows in reference_state.items():
        assert distributed_state[table] == rows, f"{table} differs from the in-process run"
    # and the purge deleted the same landed objects from both buckets
    landed = [
        sorted(
            item.path
            for item in ObjectStoreResource(
                url=setting["CM_STORAGE_URL"], s3_endpoint_url=s3_endpoint
            ).list_files("landing")
        )
        for setting in (distributed, reference)
    ]
    assert landed[0] == landed[1]
    assert len(landed[0]) < len(world.paths)
