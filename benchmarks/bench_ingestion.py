"""Ingestion hot path: one million generated CDR rows parsed, normalised and loaded into SQLite.

The fast path is the production code (`read_cdr_csv`: pyarrow CSV, each distinct number parsed
once, one-transaction bulk insert). The baseline is the naive reader (csv module, phonenumbers per
row) with one INSERT per row, run on a subsample in the same `make bench` run and extrapolated.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.measure import rate, run_isolated

START_DAY = date(2026, 11, 1)


def _generate(root: Path, calls: int) -> list[str]:
    from cm_pipelines.resources import ObjectStoreResource, PlatformConfigResource
    from cm_pipelines.synthetic.world import generate_world

    store = ObjectStoreResource(url=f"file://{root}")
    generate_world(
        store.write_bytes,
        PlatformConfigResource().tenants(),
        seed=11,
        calls=calls,
        start_day=START_DAY,
        days=5,
        audio=False,
    )
    return sorted(str(p) for p in root.rglob("Master.csv"))


def _fast(files: list[str], database: str) -> dict[str, Any]:
    import pandas as pd

    from cm_pipelines.domain.ingestion.cdr.reader import read_cdr_csv
    from cm_pipelines.resources import PlatformConfigResource, WarehouseResource
    from cm_pipelines.resources.bulk_load import bulk_insert
    from cm_pipelines.tables import calls as tables

    tenants = PlatformConfigResource().tenants_by_id()
    warehouse = WarehouseResource(url=f"sqlite:///{database}")
    warehouse.upgrade()
    rows = 0
    started = time.perf_counter()
    with warehouse.begin() as connection:
        for path in files:
            tenant_id = Path(path).parent.parent.name
            parsed = read_cdr_csv(Path(path).read_bytes(), path, {tenant_id: tenants[tenant_id]})
            frame = parsed.calls
            frame["call_date"] = pd.to_datetime(frame["call_date"]).dt.date
            frame["partition_date"] = frame["call_date"]
            rows += bulk_insert(connection, tables.calls, frame)
    return {"rows": rows, "work_seconds": time.perf_counter() - started}


def _naive(files: list[str], database: str, limit: int) -> dict[str, Any]:
    from datetime import date as date_type

    import sqlalchemy as sa

    from cm_pipelines.domain.ingestion.cdr.naive_reader import read_cdr_csv_naive
    from cm_pipelines.resources import PlatformConfigResource, WarehouseResource
    from cm_pipelines.tables import calls as tables

    tenants = PlatformConfigResource().tenants_by_id()
    warehouse = WarehouseResource(url=f"sqlite:///{database}")
    warehouse.upgrade()
    rows = 0
    started = time.perf_counter()
    for path in files:
        tenant_id = Path(path).parent.parent.name
        lines = Path(path).read_bytes().splitlines(keepends=True)[: max(limit - rows, 0)]
        if not lines:
            break
        parsed = read_cdr_csv_naive(b"".join(lines), path, {tenant_id: tenants[tenant_id]})
        for record in parsed.calls.to_dict(orient="records"):
            record = {k: (None if v != v else v) for k, v in record.items()}  # NaN/NaT -> None
            record["call_date"] = date_type.fromisoformat(str(record["call_date"]))
            record["partition_date"] = record["call_date"]
            for key in ("started_at", "answered_at", "ended_at"):
                if record.get(key) is not None:
                    record[key] = record[key].to_pydatetime()
            values = {c.name: record.get(c.name) for c in tables.calls.columns if c.name in record}
            with warehouse.begin() as connection:  # one transaction per row: the naive way
                connection.execute(sa.insert(tables.calls).values(**values))
            rows += 1
    return {"rows": rows, "work_seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        files = _generate(root / "store", args.calls)
        fast = run_isolated(_fast, files, str(root / "fast.db"))
        naive = run_isolated(_naive, files, str(root / "naive.db"), args.baseline_rows)
    fast_rate = fast["rows"] / fast["work_seconds"]
    naive_rate = naive["rows"] / naive["work_seconds"]
    print("== ingestion: cdr_csv -> SQLite warehouse (parse + normalise + load) ==")
    print(
        f"fast path : {fast['rows']:,} rows in {fast['work_seconds']:.1f} s = "
        f"{rate(fast['rows'], fast['work_seconds'])}, peak RSS {fast['peak_rss_mb']:,.0f} MB"
    )
    print(
        f"naive     : {naive['rows']:,} rows (subsample) in {naive['work_seconds']:.1f} s = "
        f"{rate(naive['rows'], naive['work_seconds'])}, peak RSS {naive['peak_rss_mb']:,.0f} MB; "
        f"extrapolated to {fast['rows']:,} rows: {fast['rows'] / naive_rate:,.0f} s"
    )
    print(f"speed-up  : {fast_rate / naive_rate:,.1f}x")


if __name__ == "__main__":
    main()
