"""Retention purge: one million due artefacts (rows) and 100k objects, SQLite + a local folder.

The fast path is the production purge (``retention.purge``: plan with a stored manifest,
guard re-derivation, execution in batches — objects deleted then confirmed, rows marked and
wiped with one UPDATE per table and batch, tombstones inserted per batch — and the proof with
a final absence check). The naive baseline purges one artefact at a time (delete the object,
check it, UPDATE the row, INSERT the tombstone, each in its own transaction), run on a
subsample in the same `make bench` run and extrapolated. Each variant runs in its own spawned
process so its peak memory is its own.

World: calls (call logs), recordings with one object each and wash results, all past a 1-day
policy. ``--scale 0.1`` runs a tenth of it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.measure import rate, run_isolated

FULL_ROWS = 1_000_000
FULL_OBJECTS = 100_000
NAIVE_ROWS = 6_000
TENANTS = ("bench-a", "bench-b", "bench-c", "bench-d")
TENANTS_YAML = "tenants:\n" + "".join(
    f"""  - id: {tenant}
    name: Bench {tenant}
    country: AU
    timezone: Australia/Sydney
    retention_days: {{recordings: 1, transcripts: 1, ai_summaries: 1, call_logs: 1, crm_links: 1, wash_results: 1}}
"""
    for tenant in TENANTS
)


def _counts(rows: int, objects: int) -> tuple[int, int, int]:
    """(calls, recordings, wash results) adding up to ``rows`` with ``objects`` recordings."""
    calls = (rows - objects) // 2
    return calls, objects, rows - objects - calls


def build_world(root: Path, rows: int, objects: int) -> dict[str, str]:
    """A warehouse and a store where every artefact is past its policy (10 days old)."""
    import numpy as np
    import pandas as pd

    from cm_pipelines.resources import ObjectStoreResource, WarehouseResource
    from cm_pipelines.resources.bulk_load import bulk_insert
    from cm_pipelines.tables import calls as call_tables
    from cm_pipelines.tables import dncr as dncr_tables

    (root / "store").mkdir(parents=True)
    tenants_file = root / "tenants.yaml"
    tenants_file.write_text(TENANTS_YAML)
    warehouse = WarehouseResource(url=f"sqlite:///{root / 'warehouse.db'}")
    warehouse.upgrade()
    store = ObjectStoreResource(url=f"file://{root / 'store'}")
    call_count, recording_count, wash_count = _counts(rows, objects)
    day = datetime.now(UTC).date() - timedelta(days=10)
    started = datetime.combine(day, datetime.min.time())
    tenant_of = np.array(TENANTS)[np.arange(max(call_count, recording_count)) % len(TENANTS)]
    call_ids = [f"{1_600_000_000 + n}.{n}" for n in range(max(call_count, recording_count))]
    calls = pd.DataFrame(
        {
            "tenant_id": tenant_of[:call_count],
            "call_id": call_ids[:call_count],
            "partition_date": day,
            "call_date": day,
            "started_at": started,
            "ended_at": started + timedelta(minutes=2),
            "duration_s": 120,
            "billsec_s": 110,
            "disposition": "ANSWERED",
            "direction": "inbound",
            "src_kind": "e164",
            "src_e164": [f"+614915{n % 100_000:05d}" for n in range(call_count)],
            "dst_kind": "e164",
            "dst_e164": "+61299990000",
            "caller_name": "Bench Caller",
            "source_file": "landing/cdr/bench/Master.csv",
            "source_line": np.arange(call_count),
        }
    )
    paths = [
        f"landing/recordings/{tenant_of[n]}/{day.isoformat()}/{call_ids[n]}.wav"
        for n in range(recording_count)
    ]
    for path in paths:
        target = root / "store" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"RIFF-bench-recording")
    recordings = pd.DataFrame(
        {
            "tenant_id": tenant_of[:recording_count],
            "call_id": call_ids[:recording_count],
            "partition_date": day,
            "object_path": paths,
            "bytes": 20,
            "sha256": "ab" * 32,
            "duration_s": 1.0,
            "sample_rate": 8000,
            "channels": 1,
        }
    )
    wash = pd.DataFrame(
        {
            "tenant_id": np.array(TENANTS)[np.arange(wash_count) % len(TENANTS)],
            "campaign_id": "bench",
            "e164": [f"+614916{n % 100_000:05d}" for n in range(wash_count)],
            "e164_hash": [f"hk1:{n:064x}" for n in range(wash_count)],
            "decision": "allowed",
            "reason": "not_registered",
            "washed_at": started.replace(tzinfo=UTC),
        }
    )
    with warehouse.begin() as connection:
        bulk_insert(connection, call_tables.calls, calls)
        bulk_insert(connection, call_tables.recordings, recordings)
        bulk_insert(connection, dncr_tables.wash_results, wash)
    return {
        "warehouse": warehouse.url,
        "store": store.url,
        "tenants": str(tenants_file),
        "rows": str(rows),
        "objects": str(objects),
    }


def _fast(world: dict[str, str]) -> dict[str, Any]:
    from cm_pipelines.domain.retention.circuit_breaker import BreakerLimits
    from cm_pipelines.resources import (
        ObjectStoreResource,
        PlatformConfigResource,
        WarehouseResource,
    )
    from cm_pipelines.retention.purge.execute import execute_plan
    from cm_pipelines.retention.purge.guard import guard_plan
    from cm_pipelines.retention.purge.plan import prepare_plan
    from cm_pipelines.retention.purge.prove import prove_plan
    from cm_pipelines.retention.purge.settings import PurgeSettings

    warehouse = WarehouseResource(url=world["warehouse"])
    store = ObjectStoreResource(url=world["store"])
    tenants = PlatformConfigResource(tenants_file=world["tenants"]).tenants()
    key = b"bench-identifier-hash-key-000000"
    settings = PurgeSettings(limits=BreakerLimits(max_tenant_share=1.0, max_plan_items=10**9))
    phases: dict[str, float] = {}
    started = time.perf_counter()
    plan = prepare_plan(warehouse, store, tenants, settings, run_id="bench", hash_key=key)
    phases["plan"] = time.perf_counter() - started
    mark = time.perf_counter()
    guard = guard_plan(warehouse, plan.plan_id, hash_key=key, run_id="bench")
    assert guard.passed, guard
    phases["guard"] = time.perf_counter() - mark
    mark = time.perf_counter()
    outcome = execute_plan(warehouse, store, plan.plan_id, run_id="bench", hash_key=key)
    phases["execute"] = time.perf_counter() - mark
    mark = time.perf_counter()
    proof = prove_plan(warehouse, store, plan.plan_id, run_id="bench")
    phases["prove"] = time.perf_counter() - mark
    assert proof.status == "completed", proof.document["totals"]
    return {
        "work_seconds": time.perf_counter() - started,
        "rows": outcome.rows_purged,
        "objects": outcome.objects_deleted,
        "batches": outcome.batches_run,
        "phases": phases,
    }


def _naive(world: dict[str, str]) -> dict[str, Any]:
    """One artefact at a time, each step its own statement and transaction."""
    import os

    import sqlalchemy as sa

    from cm_pipelines.resources import ObjectStoreResource, WarehouseResource
    from cm_pipelines.tables import calls as call_tables
    from cm_pipelines.tables import dncr as dncr_tables
    from cm_pipelines.tables.retention import retention_tombstones

    warehouse = WarehouseResource(url=world["warehouse"])
    store = ObjectStoreResource(url=world["store"])
    now = datetime.now(UTC)
    started = time.perf_counter()
    rows = objects = 0
    with warehouse.connect() as connection:
        recordings = connection.execute(
            sa.select(
                call_tables.recordings.c.tenant_id,
                call_tables.recordings.c.call_id,
                call_tables.recordings.c.object_path,
            )
        ).all()
        calls = connection.execute(
            sa.select(call_tables.calls.c.tenant_id, call_tables.calls.c.call_id)
        ).all()
        washes = connection.execute(
            sa.select(dncr_tables.wash_results.c.tenant_id, dncr_tables.wash_results.c.id)
        ).all()

    def tombstone(connection, tenant_id, record_type, artefact_id):
        connection.execute(
            sa.insert(retention_tombstones).values(
                tenant_id=tenant_id,
                record_type=record_type,
                artefact_id=str(artefact_id),
                object_sha256=None,
                deleted_at=now,
                policy_version="naive",
                plan_id="naive",
            )
        )

    for tenant_id, call_id, path in recordings:
        store.delete([path])
        if os.path.exists(store.full_path(path)):
            continue
        with warehouse.begin() as connection:
            table = call_tables.recordings
            connection.execute(
                sa.update(table)
                .where(table.c.tenant_id == tenant_id, table.c.call_id == call_id)
                .values(deleted_at=now)
            )
            tombstone(connection, tenant_id, "recordings", call_id)
        rows += 1
        objects += 1
    for tenant_id, call_id in calls:
        with warehouse.begin() as connection:
            table = call_tables.calls
            connection.execute(
                sa.update(table)
                .where(table.c.tenant_id == tenant_id, table.c.call_id == call_id)
                .values(deleted_at=now, src_e164=None, dst_e164=None, caller_name=None)
            )
            tombstone(connection, tenant_id, "call_logs", call_id)
        rows += 1
    for tenant_id, wash_id in washes:
        with warehouse.begin() as connection:
            table = dncr_tables.wash_results
            connection.execute(
                sa.update(table)
                .where(table.c.id == wash_id)
                .values(deleted_at=now, e164=None, e164_hash="")
            )
            tombstone(connection, tenant_id, "wash_results", wash_id)
        rows += 1
    return {"rows": rows, "objects": objects, "work_seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of 1M rows / 100k objects"
    )
    parser.add_argument("--naive-rows", type=int, default=NAIVE_ROWS, help="baseline subsample")
    args = parser.parse_args(argv)
    rows = max(int(FULL_ROWS * args.scale), 100)
    objects = max(int(FULL_OBJECTS * args.scale), 10)
    naive_rows = min(args.naive_rows, rows)
    naive_objects = max(naive_rows * objects // rows, 1)
    workspace = Path(tempfile.mkdtemp(prefix="bench_retention_"))
    try:
        print(
            f"== retention purge: {rows:,} due rows, {objects:,} objects (SQLite + local folder) =="
        )
        started = time.perf_counter()
        fast_world = build_world(workspace / "fast", rows, objects)
        naive_world = build_world(workspace / "naive", naive_rows, naive_objects)
        os.sync()  # flush the fresh world first: timing its writeback is not the purge's cost
        print(f"world built in {time.perf_counter() - started:,.1f} s")
        fast = run_isolated(_fast, fast_world)
        naive = run_isolated(_naive, naive_world)
        assert fast["rows"] == rows and fast["objects"] == objects, fast
        phases = ", ".join(f"{name} {seconds:,.1f} s" for name, seconds in fast["phases"].items())
        work = fast["work_seconds"]
        print(
            f"fast  : {fast['rows']:,} rows, {fast['objects']:,} objects in {work:,.1f} s "
            f"-> {rate(fast['rows'], work)} rows, {rate(fast['objects'], work)} objects "
            f"(plan to proof); peak RSS {fast['peak_rss_mb']:,.0f} MB; {fast['batches']} batches "
            f"({phases})"
        )
        naive_work = naive["work_seconds"]
        projected = naive_work * rows / max(naive["rows"], 1)
        print(
            f"naive : {naive['rows']:,} rows, {naive['objects']:,} objects in {naive_work:,.1f} s "
            f"-> {rate(naive['rows'], naive_work)} rows, {rate(naive['objects'], naive_work)} "
            f"objects; peak RSS {naive['peak_rss_mb']:,.0f} MB (a subsample of the same mix, "
            f"one artefact per transaction; extrapolated to {rows:,} rows: {projected:,.0f} s)"
        )
        print(f"speed-up (fast vs naive extrapolated): {projected / work:,.1f}x")
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    main()
