"""`make bench`: every benchmark in one run. Set BENCH_ONLY=name1,name2 to run a subset."""

from __future__ import annotations

import importlib
import os

BENCHMARKS = [
    "bench_ingestion",
    "bench_call_day",
    "bench_dncr",
    "bench_wash",
    "bench_retention",
    "bench_dsar_locate",
    "bench_dsar_index",
    "bench_backfill",
    "bench_names",
]


def main() -> None:
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    for name in BENCHMARKS:
        if only and name not in only:
            continue
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError:
            print(f"== {name}: not present ==")
            continue
        module.main([])
        print()


if __name__ == "__main__":
    main()
