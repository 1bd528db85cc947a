"""A call day as users run it: ``cm launch call_ingestion_job --partition DAY`` (every step and
check of the job, through the project's Dagster instance, with the deployment's default
executor), timed from outside as a whole process, on SQLite and on PostgreSQL.

For each backend a fresh ``CM_HOME`` is initialised (``cm init``), one call day of N generated
calls (no audio) is landed (``cm generate``), and the job runs once on that day and once on a
day with nothing landed. The empty day is the fixed cost of a run (process start, imports,
Dagster, Great Expectations); the slope is fitted between the sizes. PostgreSQL gets a database
of its own, created and dropped here (never ``test``).

``python -m benchmarks.bench_call_day --sizes 100000,300000 --backends sqlite,postgresql``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DAY = "2026-11-02"
EMPTY_DAY = "2026-11-05"
PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
BIN = Path(sys.executable).parent


@contextmanager
def _postgres_database() -> Iterator[str]:
    import sqlalchemy as sa

    name = f"cm_bench_call_day_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    preparer = admin.dialect.identifier_preparer
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {preparer.quote(name)}"))
        connection.execute(sa.text(f"CREATE DATABASE {preparer.quote(name)}"))
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text(f"DROP DATABASE IF EXISTS {preparer.quote(name)} WITH (FORCE)")
            )
        admin.dispose()


def _run(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """One ``cm`` process: wall and CPU seconds and its peak RSS, from the OS's accounting."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "cm"), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        tail = output.decode("utf-8", "replace")[-2000:]
        raise RuntimeError(f"cm {args[0]} failed ({status}):\n{tail}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def _environment(home: Path, warehouse_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CM_")}
    env.update(
        CM_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster_home"),
        CM_AUTOMATION="off",
        PYTHONWARNINGS="ignore",
    )
    if warehouse_url:
        env["CM_WAREHOUSE_URL"] = warehouse_url
    return env


def _one_size(backend: str, calls: int, warehouse_url: str | None) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix=f"cm-bench-{backend}-"))
    try:
        env = _environment(home, warehouse_url)
        _run(["init"], env)
        args = ["--seed", "5", "--calls", str(calls), "--no-audio", "--days", "1"]
        _run(["generate", *args, "--start-day", DAY], env)
        launch = ["launch", "call_ingestion_job", "--actor", "dana", "--partition"]
        day = _run([*launch, DAY], env)
        empty = _run([*launch, EMPTY_DAY], env)
        return {
            "calls": calls,
            **day,
            "empty_wall_s": empty["wall_s"],
            "empty_cpu_s": empty["cpu_s"],
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _backend(backend: str, sizes: list[int]) -> list[dict[str, float]]:
    results = []
    for calls in sizes:
        if backend == "postgresql":
            with _postgres_database() as url:
                results.append(_one_size(backend, calls, url))
        else:
            results.append(_one_size(backend, calls, None))
    return results


def _report(backend: str, results: list[dict[str, float]]) -> None:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"-- {backend}: call_ingestion_job, one call day through cm launch (load avg {load})")
    print("| calls (CDR rows) | wall | CPU | peak RSS | empty-day run (fixed cost) wall / CPU |")
    print("|---|---|---|---|---|")
    for row in results:
        print(
            f"| {int(row['calls']):,} | {row['wall_s']:.1f} s | {row['cpu_s']:.1f} s "
            f"| {row['peak_rss_mb']:.0f} MB | {row['empty_wall_s']:.1f} s / {row['empty_cpu_s']:.1f} s |"
        )
    if len(results) >= 2:
        first, last = results[0], results[-1]
        rows = last["calls"] - first["calls"]
        for label in ("wall_s", "cpu_s"):
            slope = (last[label] - first[label]) / rows
            fixed = first[label] - slope * first["calls"]
            print(
                f"{label[:-2]}: {slope * 1e6:.1f} s per million rows "
                f"({1 / slope:,.0f} rows/s), intercept {fixed:.1f} s"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_CALL_DAY_SIZES", "100000,300000"))
    parser.add_argument("--backends", default="sqlite,postgresql")
    options = parser.parse_args(argv)
    sizes = [int(size) for size in options.sizes.split(",") if size]
    print("== call day through the real job (bench_call_day) ==")
    for backend in options.backends.split(","):
        _report(backend, _backend(backend, sizes))


if __name__ == "__main__":
    main()
