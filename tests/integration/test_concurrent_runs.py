"""Two runs that touch the same data at once cannot corrupt each other.

Database guard: two ``cm launch`` processes ingest the same call day on PostgreSQL, one in a
step per tenant and one in a single slice, forced into the worst overlap — both hold an open
write transaction and wait on the same (day, tenant) advisory lock at the same moment — and the
warehouse ends exactly as after one clean run.
Run queue: the instance files keep two runs of one tenant (``cm/exclusive_tenant``) or, in
production, of one partition apart, while runs of other tenants or days go side by side.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.instance.config import dagster_instance_config
from dagster._utils.tags import TagConcurrencyLimitsCounter

from cm_pipelines.platform import landing, settings
from cm_pipelines.platform.run_tags import exclusive_tenant_tags
from cm_pipelines.resources.locks import advisory_lock_key
from tests.integration.scale_helpers import (
    IDENTIFIER_HASH_KEY,
    apply_env,
    finish_cm,
    snapshot,
    start_cm,
    stop_cm,
    wait_until,
)

DAY = date(2026, 10, 6)
DEPLOY = settings.project_root() / "deploy"


def _waiting_on_advisory_locks(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND NOT l.granted "
                    "AND d.datname = current_database()"
                )
            ).scalar_one()
        )


@pytest.mark.integration
def test_two_runs_of_one_call_day_at_once_leave_one_clean_copy(
    monkeypatch, tmp_path: Path, postgres_url: str, second_postgres_url: str
) -> None:
    from cm_pipelines.cli.project import generate, initialise
    from cm_pipelines.platform.instance import run_job
    from cm_pipelines.resources import ObjectStoreResource, WarehouseResource

    store = f"file://{tmp_path / 'store'}"
    common = {
        "CM_STORAGE_URL": store,
        "CM_IDENTIFIER_HASH_KEY": IDENTIFIER_HASH_KEY,
        "CM_EXECUTOR": "in_process",
    }
    # One clean run, for reference, into its own warehouse.
    apply_env(monkeypatch, {**common, "CM_WAREHOUSE_URL": second_postgres_url})
    WarehouseResource().upgrade()
    world = generate(5, 120, None, True, 1, DAY)
    # a CDR file under a tenant nobody configured: quarantined whole, so quarantine is replaced too
    ObjectStoreResource().write_bytes(landing.cdr_file("unconfigured-tenant", str(DAY)), b"x\n")
    reference_instance = dg.DagsterInstance.ephemeral()
    assert run_job("tenants_sync_job", instance=reference_instance).success
    assert run_job(
        "call_ingestion_job", instance=reference_instance, partition_key=DAY.isoformat()
    ).success

    apply_env(monkeypatch, {**common, "CM_WAREHOUSE_URL": postgres_url})
    initialise()
    env = dict(os.environ)
    engine = sa.create_engine(postgres_url)
    runs = []
    try:
        with engine.connect() as holder:
            transaction = holder.begin()
            first_tenant = sorted(world.calls_by_tenant)[0]
            holder.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": advisory_lock_key("ingestion", f"{DAY.isoformat()}:{first_tenant}")},
            )
            for slice_bytes in ("1", ""):  # a slice per tenant; the whole day in one slice
                runs.append(
                    start_cm(
                        [
                            "launch",
                            "call_ingestion_job",
                            "--partition",
                            str(DAY),
                            "--actor",
                            "dana",
                        ],
                        env | {"CM_INGEST_SLICE_BYTES": slice_bytes},
                    )
                )
            wait_until(
                lambda: _waiting_on_advisory_locks(engine) == 2,
                timeout_s=90,
                what="both runs to wait on a tenant's lock inside their write transactions",
                processes=tuple(runs),
            )
            transaction.commit()  # both now race for the tenant; the lock makes them take turns
        outcomes = [finish_cm(run, timeout_s=90)[0] for run in runs]
    finally:
        for run in runs:
            stop_cm(run)
        engine.dispose()

    assert all(outcome["success"] for outcome in outcomes)
    assert len({outcome["run_id"] for outcome in outcomes}) == 2
    state = snapshot(postgres_url)
    assert len(state["calls"]) == sum(world.calls_by_tenant.values())
    assert len(state["quarantine"]) == 1, "a quarantined file appears once"
    assert state == snapshot(second_postgres_url)


def _tag_limits(config_file: str) -> list[dict]:
    config, _ = dagster_instance_config(str(DEPLOY), config_file)
    if "concurrency" in config:
        return list(config["concurrency"]["runs"]["tag_concurrency_limits"])
    return list(config["run_coordinator"]["config"]["tag_concurrency_limits"])


def _run(job_name: str, tags: dict[str, str]) -> dg.DagsterRun:
    return dg.DagsterRun(job_name=job_name, tags=tags)


@pytest.mark.parametrize(
    "config_file", ["dagster.sqlite.yaml", "dagster.postgres.yaml", "dagster.production.yaml"]
)
def test_run_queue_keeps_two_purges_of_one_tenant_apart(config_file: str) -> None:
    running = _run("retention_purge_job", exclusive_tenant_tags("gamma-sg"))
    queue = TagConcurrencyLimitsCounter(_tag_limits(config_file), [running])
    assert queue.is_blocked(_run("retention_purge_job", exclusive_tenant_tags("gamma-sg")))
    assert queue.is_blocked(_run("dsar_fulfillment_job", exclusive_tenant_tags("gamma-sg")))
    assert not queue.is_blocked(_run("retention_purge_job", exclusive_tenant_tags("acme-au")))
    assert not queue.is_blocked(_run("retention_purge_job", {}))


def test_production_queue_keeps_two_runs_of_one_call_day_or_registry_apart() -> None:
    running = [
        _run("call_ingestion_job", {"dagster/partition": "2026-10-06"}),
        _run("dncr_registry_refresh_job", {"cm/registry": "us_ftc"}),
    ]
    queue = TagConcurrencyLimitsCounter(_tag_limits("dagster.production.yaml"), running)
    assert queue.is_blocked(_run("call_ingestion_job", {"dagster/partition": "2026-10-06"}))
    assert not queue.is_blocked(_run("call_ingestion_job", {"dagster/partition": "2026-10-07"}))
    assert queue.is_blocked(_run("dncr_registry_refresh_job", {"cm/registry": "us_ftc"}))
    assert not queue.is_blocked(_run("dncr_registry_refresh_job", {"cm/registry": "au_acma"}))


def test_advisory_lock_keys_are_stable_per_scope_and_partition() -> None:
    key = advisory_lock_key("ingestion", "2026-10-06")
    assert key == advisory_lock_key("ingestion", "2026-10-06")  # every process agrees
    assert key != advisory_lock_key("ingestion", "2026-10-07")
    assert key != advisory_lock_key("quarantine:call_records", "2026-10-06")
    assert -(2**63) <= key < 2**63  # PostgreSQL's bigint
