"""Concurrent purges on the real PostgreSQL: two tenants side by side, never two runs on one plan.

Purges of different tenants run at the same time, each on its own plan, and end exactly as if
run one after the other. A second purge of the same tenant, or an all-tenants purge, refuses
cleanly while the first works, and the end state is that of one clean run. Plan creation waits
on the scope's advisory lock. The purges call the engine's steps (plan, guard, execute, prove)
directly in threads: two Dagster runs in threads of one process deadlock on Dagster's logging
locks, and the engine is exactly what a run's steps call.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from cm_pipelines.domain.retention.circuit_breaker import BreakerLimits
from cm_pipelines.resources import ObjectStoreResource, WarehouseResource, object_purge
from cm_pipelines.resources.locks import advisory_lock_key
from cm_pipelines.retention.purge.claims import PurgeBusy
from cm_pipelines.retention.purge.execute import execute_plan
from cm_pipelines.retention.purge.plan import prepare_plan
from cm_pipelines.retention.purge.settings import PurgeSettings
from cm_pipelines.tables.retention import purge_plan_items, purge_plans
from tests.retention.retention_helpers import (
    SeededCall,
    World,
    end_state,
    engine_purge,
    write_tenants,
)

pytestmark = pytest.mark.integration
HASH_KEY_HEX = "ab" * 32
WAIT_S = 20


@pytest.fixture(autouse=True)
def _fixed_hash_key(monkeypatch):
    """One key for every thread (the project-local key file is created lazily, once)."""
    monkeypatch.setenv("CM_IDENTIFIER_HASH_KEY", HASH_KEY_HEX)


def seed(world: World) -> list[SeededCall]:
    """Per tenant: old calls (recording lineage due; acme's CRM links and their file too) and a
    fresh one that stays."""
    calls = [world.add_call("acme-au", 45, crm_email=f"p{n}@example.com") for n in range(3)]
    calls.append(world.add_call("acme-au", 2))
    calls += [world.add_call("beta-us", 40) for _ in range(3)]
    calls.append(world.add_call("beta-us", 3))
    return calls


def platform(warehouse: WarehouseResource, root: Path) -> dict:
    (root / "store").mkdir(parents=True)
    return {
        "warehouse": warehouse,
        "object_store": ObjectStoreResource(url=f"file://{root / 'store'}"),
        "platform_config": write_tenants(root / "tenants.yaml"),
    }


@pytest.fixture
def purge_platform(postgres_warehouse, tmp_path) -> tuple[dict, list[SeededCall]]:
    resources = platform(postgres_warehouse, tmp_path / "pg")
    return resources, seed(World(resources["warehouse"], resources["object_store"]))


@pytest.fixture
def sequential_end_state(tmp_path) -> dict:
    """The same world purged one tenant after the other, on SQLite: what concurrency must equal."""
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'reference.db'}")
    warehouse.upgrade()
    resources = platform(warehouse, tmp_path / "reference")
    calls = seed(World(warehouse, resources["object_store"]))
    for tenant_id in ("acme-au", "beta-us"):
        assert engine_purge(resources, tenant_id, f"reference-{tenant_id}")["items"] > 0
    return end_state(resources, calls)


class DeletionLog:
    """Wraps the object purge: records every path that existed when a run deleted it, and can
    hold a tenant's first deletion until released (to force runs to overlap)."""

    def __init__(self, monkeypatch, store: ObjectStoreResource):
        self.real = object_purge.purge_objects
        self.store = store
        self.deleted: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.hooks: dict[str, object] = {}  # tenant -> callable run at its first deletion
        monkeypatch.setattr(object_purge, "purge_objects", self.purge)

    def purge(self, store, paths, **kwargs):
        tenant_id = str(paths[0]).split("/")[2] if paths else ""
        hook = self.hooks.pop(tenant_id, None)
        if hook is not None:
            hook()  # type: ignore[operator]
        present = [path for path in paths if self.store.exists(path)]
        outcome = self.real(store, paths, **kwargs)
        with self.lock:
            self.deleted.update(path for path in present if path in outcome.gone)
        return outcome

    def assert_nothing_deleted_twice(self) -> None:
        assert self.deleted and max(self.deleted.values()) == 1


def plans(warehouse: WarehouseResource) -> list[dict]:
    with warehouse.connect() as connection:
        return [dict(row) for row in connection.execute(sa.select(purge_plans)).mappings()]


def item_tenants_by_plan(warehouse: WarehouseResource) -> dict[str, set[str]]:
    with warehouse.connect() as connection:
        rows = connection.execute(
            sa.select(purge_plan_items.c.plan_id, purge_plan_items.c.tenant_id).distinct()
        ).all()
    found: dict[str, set[str]] = {}
    for plan_id, tenant_id in rows:
        found.setdefault(plan_id, set()).add(tenant_id)
    return found


def test_purges_of_two_tenants_at_once_run_side_by_side_on_their_own_plans(
    purge_platform, sequential_end_state, monkeypatch
):
    resources, calls = purge_platform
    log = DeletionLog(monkeypatch, resources["object_store"])
    # Each tenant's first deletion waits for the other's: both must be executing at once
    # (a guard that serialised different tenants would break this barrier).
    both_executing = threading.Barrier(2, timeout=WAIT_S)
    log.hooks = {"acme-au": both_executing.wait, "beta-us": both_executing.wait}
    start = threading.Barrier(2, timeout=WAIT_S)

    def purge(tenant_id: str) -> dict:
        start.wait()
        return engine_purge(resources, tenant_id, f"run-{tenant_id}")

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(purge, ["acme-au", "beta-us"]))
    assert [r["status"] for r in results] == ["completed", "completed"]
    assert all(r["items"] > 0 and not r["resumed"] for r in results)
    by_plan = item_tenants_by_plan(resources["warehouse"])
    assert by_plan == {results[0]["plan_id"]: {"acme-au"}, results[1]["plan_id"]: {"beta-us"}}
    assert {p["scope_tenant_id"] for p in plans(resources["warehouse"])} == {"acme-au", "beta-us"}
    log.assert_nothing_deleted_twice()
    assert end_state(resources, calls) == sequential_end_state


def test_a_second_purge_of_the_tenant_or_of_every_tenant_refuses_while_the_first_executes(
    purge_platform, sequential_end_state, monkeypatch
):
    resources, calls = purge_platform
    warehouse, store = resources["warehouse"], resources["object_store"]
    log = DeletionLog(monkeypatch, store)
    executing, release = threading.Event(), threading.Event()

    def pause() -> None:
        executing.set()
        assert release.wait(WAIT_S)

    log.hooks = {"acme-au": pause}
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(engine_purge, resources, "acme-au", "run-first")
        assert executing.wait(WAIT_S)
        tenants = resources["platform_config"].tenants()
        limits = BreakerLimits(max_tenant_share=1.0)
        for scope in ("acme-au", None):
            with pytest.raises(PurgeBusy, match="run-first"):
                prepare_plan(
                    warehouse,
                    store,
                    tenants,
                    PurgeSettings(tenant_id=scope, limits=limits),
                    run_id="run-second",
                    hash_key=bytes.fromhex(HASH_KEY_HEX),
                )
        running = next(p for p in plans(warehouse) if p["status"] == "executing")
        with pytest.raises(PurgeBusy, match="run-first"):
            execute_plan(
                warehouse,
                store,
                running["plan_id"],
                run_id="run-second",
                hash_key=bytes.fromhex(HASH_KEY_HEX),
            )
        # beta is another scope: it runs to the end while acme's purge is paused mid-batch
        assert engine_purge(resources, "beta-us", "run-beta")["status"] == "completed"
        release.set()
        assert first.result(timeout=WAIT_S)["status"] == "completed"
    assert len(plans(warehouse)) == 2  # the refused attempts stored nothing
    log.assert_nothing_deleted_twice()
    assert end_state(resources, calls) == sequential_end_state


def test_two_purges_of_one_tenant_launched_together_leave_one_clean_run(
    purge_platform, sequential_end_state, monkeypatch
):
    resources, calls = purge_platform
    log = DeletionLog(monkeypatch, resources["object_store"])
    start = threading.Barrier(2, timeout=WAIT_S)

    def purge(run_id: str) -> dict | str:
        start.wait()
        try:
            return engine_purge(resources, "acme-au", run_id)
        except PurgeBusy:
            return "refused"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(purge, ["run-1", "run-2"]))
    done = [o for o in outcomes if isinstance(o, dict) and o["items"] > 0]
    assert len(done) == 1 and done[0]["status"] == "completed"
    # the other refused cleanly, or came after the first and found nothing left to do
    other = outcomes[1 - outcomes.index(done[0])]
    assert other == "refused" or (isinstance(other, dict) and other["items"] == 0)
    assert engine_purge(resources, "beta-us", "run-beta")["items"] > 0
    log.assert_nothing_deleted_twice()
    assert end_state(resources, calls) == sequential_end_state
    assert all(p["claimed_by_run"] is None for p in plans(resources["warehouse"]))


def _waiting_advisory_locks(warehouse: WarehouseResource) -> int:
    with warehouse.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND NOT l.granted "
                    "AND d.datname = current_database()"
                )
            ).scalar_one()
        )


def _wait_for_waiter(warehouse: WarehouseResource) -> None:
    deadline = time.monotonic() + WAIT_S
    while _waiting_advisory_locks(warehouse) == 0:
        assert time.monotonic() < deadline, "the purge never waited on the advisory lock"
        time.sleep(0.05)


def test_planning_waits_on_the_scope_advisory_lock(purge_platform):
    resources, _ = purge_platform
    warehouse = resources["warehouse"]

    def lock(connection: sa.Connection, key: str, shared: bool = False) -> None:
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        connection.execute(
            sa.text(f"SELECT {function}(:key)"), {"key": advisory_lock_key("retention", key)}
        )

    with ThreadPoolExecutor(max_workers=1) as pool:
        # Another transaction holds acme-au's lock the way a tenant purge does.
        with warehouse.begin() as blocker:
            lock(blocker, "*", shared=True)
            lock(blocker, "acme-au")
            acme = pool.submit(engine_purge, resources, "acme-au", "run-acme")
            _wait_for_waiter(warehouse)
            assert not acme.done()
            # another tenant is not held up by it
            assert engine_purge(resources, "beta-us", "run-beta")["status"] == "completed"
            assert not acme.done()
        assert acme.result(timeout=WAIT_S)["status"] == "completed"
        # An all-tenants purge waits for every tenant purge (they hold '*' shared).
        with warehouse.begin() as blocker:
            lock(blocker, "*", shared=True)
            everyone = pool.submit(engine_purge, resources, None, "run-all")
            _wait_for_waiter(warehouse)
            assert not everyone.done()
        assert everyone.result(timeout=WAIT_S)["items"] == 0  # the tenants took it all
