"""A purge SIGKILLed mid-plan does not block the next one: run again straight away, the next
run takes the dead run's claim over and finishes the same plan (the README's promise).

The killed run is a real `cm`-style process (``run_job`` in a subprocess) killed by SIGKILL
between two delete batches: Dagster still shows it started, and only the process check of
``platform.run_liveness`` tells the next run that it is gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from cm_pipelines.platform.instance import get_instance, run_job
from cm_pipelines.platform.run_liveness import process_gone, process_tags
from cm_pipelines.retention.purge.claims import ClaimPolicy, claim_holder
from cm_pipelines.tables.retention import purge_plan_items, purge_plans
from tests.retention.retention_helpers import World, purge_config, write_tenants
from tests.retention.test_retention_purge import (
    NO_BREAKER,
    assert_nothing_orphaned,
    rows,
    seed_mixed,
)

CONFIG = purge_config(**NO_BREAKER, tenant="acme-au", object_batch_size=2, row_batch_size=2)
KILLED_RUN = textwrap.dedent(
    """
    import json, os, signal, sys
    from cm_pipelines.resources import object_purge
    from cm_pipelines.platform.instance import run_job

    real, batches = object_purge.purge_objects, []

    def dies_on_the_second_batch(store, paths, **kwargs):
        batches.append(len(paths))
        if len(batches) == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no run-failure event
        return real(store, paths, **kwargs)

    object_purge.purge_objects = dies_on_the_second_batch
    run_job("retention_purge_job", run_config=json.loads(sys.argv[1]), tags={"cm/actor": "cli:dana"})
    """
)


@pytest.fixture
def project(sqlite_warehouse, local_store, tmp_path: Path, monkeypatch):
    """The project's own resources (what `cm` uses), pointed at this test's warehouse."""
    tenants = tmp_path / "tenants.yaml"
    write_tenants(tenants)
    monkeypatch.setenv("CM_WAREHOUSE_URL", sqlite_warehouse.resolved_url())
    monkeypatch.setenv("CM_STORAGE_URL", local_store.root_url())
    monkeypatch.setenv("CM_TENANTS_FILE", str(tenants))
    return {"warehouse": sqlite_warehouse, "object_store": local_store}


def test_a_sigkilled_purge_is_taken_over_at_once_and_finishes_the_same_plan(project) -> None:
    seed_mixed(World(project["warehouse"], project["object_store"]))
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, json.dumps(CONFIG)], capture_output=True, timeout=300
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    [plan] = rows(project["warehouse"], purge_plans).to_dict("records")
    assert plan["status"] == "executing" and plan["claimed_by_run"]
    items = rows(project["warehouse"], purge_plan_items)
    assert 0 < (items["status"] == "purged").sum() < len(items)
    instance = get_instance()
    dead = instance.get_run_by_id(plan["claimed_by_run"])
    assert dead is not None and dead.status == dg.DagsterRunStatus.STARTED  # never recorded an end
    assert process_gone(dead.tags)
    # the TTL alone would refuse the rerun for ten minutes: the claim is fresh
    fresh = claim_holder(plan, "next-run", datetime.now(UTC), ClaimPolicy())
    assert fresh == plan["claimed_by_run"]

    again = run_job("retention_purge_job", run_config=CONFIG, tags={"cm/actor": "cli:dana"})
    assert again.success
    resumed = next(
        e.materialization.metadata
        for e in again.get_asset_materialization_events()
        if e.materialization is not None
        and e.materialization.asset_key.path[-1] == "retention_purge_plan"
    )
    assert resumed["plan_id"].value == plan["plan_id"] and resumed["resumed"].value is True
    assert set(rows(project["warehouse"], purge_plan_items)["status"]) == {"purged"}
    assert_nothing_orphaned(project["warehouse"], project["object_store"])


def test_a_live_or_foreign_process_is_never_taken_for_dead() -> None:
    mine = process_tags()
    assert not process_gone(mine)  # this very process
    parent = {**mine, "cm/pid": str(os.getppid())}
    parent.pop("cm/pid_started")
    assert not process_gone(parent)  # alive
    assert not process_gone({**mine, "cm/host": "another-host", "cm/pid": "999999999"})
    assert not process_gone({})  # a run launched elsewhere: no tags, wait for its TTL
    assert process_gone({**mine, "cm/pid": "999999999"})
    reused = {**mine, "cm/pid": str(os.getppid()), "cm/pid_started": "1"}
    assert process_gone(reused)  # the pid lives on in another process
