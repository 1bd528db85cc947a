"""Backfills: what the backfill policies and the tenant split cost and save, on SQLite.

1. ``call_day_volumes`` over ``--days`` call days: one run over the whole range (its single-run
   backfill policy) against the naive baseline of one run per day, in the same warehouse.
2. One large call day of ``call_records``: ingested in one step (one slice) against one step per
   tenant (``CM_INGEST_SLICE_BYTES=1``), both in process. On one machine the split only adds
   steps and transactions; what it buys is that separate workers can take the slices.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.measure import rate, run_isolated

START_DAY = date(2026, 9, 1)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _generate(root: Path, calls: int, days: int) -> None:
    from cm_pipelines.resources import ObjectStoreResource, PlatformConfigResource
    from cm_pipelines.synthetic.world import generate_world

    store = ObjectStoreResource(url=f"file://{root}")
    generate_world(
        store.write_bytes,
        PlatformConfigResource().tenants(),
        seed=23,
        calls=calls,
        start_day=START_DAY,
        days=days,
        audio=False,
    )


def _load_calls(store_root: str, database: str) -> dict[str, Any]:
    """Every generated call into the warehouse by the production parser and bulk loader."""
    import pandas as pd

    from cm_pipelines.domain.ingestion.cdr.reader import read_cdr_csv
    from cm_pipelines.resources import PlatformConfigResource, WarehouseResource
    from cm_pipelines.resources.bulk_load import bulk_insert
    from cm_pipelines.tables import calls as tables

    tenants = PlatformConfigResource().tenants_by_id()
    warehouse = WarehouseResource(url=f"sqlite:///{database}")
    warehouse.upgrade()
    rows = 0
    with warehouse.begin() as connection:
        for path in sorted(Path(store_root).rglob("Master.csv")):
            tenant_id = path.parent.parent.name
            frame = read_cdr_csv(path.read_bytes(), str(path), {tenant_id: tenants[tenant_id]})
            calls = frame.calls
            calls["partition_date"] = pd.to_datetime(calls["call_date"]).dt.date
            calls["call_date"] = calls["partition_date"]
            rows += bulk_insert(connection, tables.calls, calls)
    return {"rows": rows}


def _volumes(database: str, days: list[str], single_run: bool) -> dict[str, Any]:
    import dagster as dg

    from cm_pipelines.ingestion.assets import call_day_volumes
    from cm_pipelines.ingestion.jobs import call_volumes_job
    from cm_pipelines.platform.run_tags import partition_range_tags
    from cm_pipelines.resources import WarehouseResource

    defs = dg.Definitions(
        assets=[call_day_volumes],
        jobs=[call_volumes_job],
        resources={"warehouse": WarehouseResource(url=f"sqlite:///{database}")},
    )
    job = defs.resolve_job_def("call_volumes_job")
    instance = dg.DagsterInstance.ephemeral()
    runs = 0
    started = time.perf_counter()
    if single_run:
        tags = partition_range_tags(days[0], days[-1])
        assert job.execute_in_process(instance=instance, tags=tags, run_config=QUIET).success
        runs = 1
    else:
        for day in days:
            assert job.execute_in_process(
                instance=instance, partition_key=day, run_config=QUIET
            ).success
            runs += 1
    return {"runs": runs, "work_seconds": time.perf_counter() - started}


def _slice_day(store_root: str, database: str, day: str, slice_bytes: str) -> dict[str, Any]:
    import dagster as dg

    from cm_pipelines.ingestion.assets import call_records
    from cm_pipelines.resources import (
        ObjectStoreResource,
        PlatformConfigResource,
        WarehouseResource,
    )

    if slice_bytes:
        os.environ["CM_INGEST_SLICE_BYTES"] = slice_bytes
    warehouse = WarehouseResource(url=f"sqlite:///{database}")
    warehouse.upgrade()
    resources = {
        "warehouse": warehouse,
        "object_store": ObjectStoreResource(url=f"file://{store_root}"),
        "platform_config": PlatformConfigResource(),
    }
    started = time.perf_counter()
    result = dg.materialize(
        [call_records], partition_key=day, resources=resources, run_config=QUIET
    )
    seconds = time.perf_counter() - started
    assert result.success
    [materialization] = result.get_asset_materialization_events()
    metadata = materialization.materialization.metadata  # type: ignore[union-attr]
    return {
        "rows": int(metadata["rows_inserted"].value),  # type: ignore[arg-type]
        "slices": int(metadata["tenant_slices"].value),  # type: ignore[arg-type]
        "work_seconds": seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=60, help="call days of the volume backfill")
    parser.add_argument("--calls", type=int, default=600_000, help="calls over those days")
    parser.add_argument("--day-calls", type=int, default=200_000, help="calls of the large day")
    args = parser.parse_args(argv)
    days = [(START_DAY + timedelta(days=offset)).isoformat() for offset in range(args.days)]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _generate(root / "range", args.calls, args.days)
        loaded = run_isolated(_load_calls, str(root / "range"), str(root / "range.db"))
        shutil.copy(root / "range.db", root / "per_day.db")
        single = run_isolated(_volumes, str(root / "range.db"), days, True)
        per_day = run_isolated(_volumes, str(root / "per_day.db"), days, False)

        _generate(root / "day", args.day_calls, 1)
        whole = run_isolated(_slice_day, str(root / "day"), str(root / "whole.db"), days[0], "")
        sliced = run_isolated(_slice_day, str(root / "day"), str(root / "sliced.db"), days[0], "1")
    print(f"== call volumes backfill: {args.days} days, {loaded['rows']:,} calls (SQLite) ==")
    print(
        f"single run : {single['runs']} run in {single['work_seconds']:.2f} s = "
        f"{args.days / single['work_seconds']:,.1f} days/s, "
        f"peak RSS {single['peak_rss_mb']:,.0f} MB"
    )
    print(
        f"run per day: {per_day['runs']} runs in {per_day['work_seconds']:.2f} s = "
        f"{args.days / per_day['work_seconds']:,.1f} days/s, "
        f"peak RSS {per_day['peak_rss_mb']:,.0f} MB"
    )
    print(f"speed-up   : {per_day['work_seconds'] / single['work_seconds']:,.1f}x")
    print(f"== one large call day: {whole['rows']:,} calls of call_records, in process ==")
    for label, variant in (("one slice  ", whole), ("per tenant ", sliced)):
        print(
            f"{label}: {variant['slices']} slice(s) in {variant['work_seconds']:.2f} s = "
            f"{rate(variant['rows'], variant['work_seconds'])} rows, "
            f"peak RSS {variant['peak_rss_mb']:,.0f} MB"
        )
    print(
        f"split cost : {sliced['work_seconds'] / whole['work_seconds']:,.2f}x the time on one "
        "machine (the slices are what separate workers take)"
    )


if __name__ == "__main__":
    main()
