"""Do-not-call registries at US scale: lookups against 250M numbers, and a full guarded refresh.

Generated data (not timed): a US registry of ``250M x scale`` valid numbers spread over real
area codes and exchanges (~10 % density, like the FTC file), written as FTC full downloads (one
zipped ``areacode,number`` file per area code) for two consecutive days with 0.5 % churn, and an
Australian-scale (``12M x scale``) wash-result file.

Measured, each in its own spawned process (so peak RSS is its own):

- lookups: ``NumberIndex.contains`` on ``10M x scale`` queried numbers (half listed) against the
  active version, beside the ``pandas.Series.isin`` baseline on the same data. The baseline builds
  a hash table of the whole registry per call, so it is run on two subsamples of the queries and
  extrapolated linearly (fixed cost + per-query cost) to the full query count;
- the structure's resident size (its arrays) and the process's RSS growth while building it;
- a full US-scale refresh through ``dncr_registry_refresh_job`` (unzip, parse, normalise, sort,
  validate, hash, write Parquet, diff against the previous version, blocking checks, promote)
  on the embedded SQLite warehouse and a local object store, with peak memory;
- the Australian-scale case: a 12M-number wash-result refresh and lookups against it.
"""

from __future__ import annotations

import argparse
import io
import math
import resource
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.measure import rate, run_isolated

FULL_REGISTRY = 250_000_000
FULL_QUERIES = 10_000_000
FULL_AU = 12_000_000
DENSITY = 0.10
CHURN = 0.005
PREVIOUS_DAY, CURRENT_DAY = "2026-11-01", "2026-11-02"
FIRST_AS_OF, SECOND_AS_OF = "2026-11-01T18:00:00+00:00", "2026-11-02T18:00:00+00:00"
AU_WASH_DAY = "2026-11-02"
US_BASE = 10_000_000_000


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def _valid_exchanges() -> dict[int, np.ndarray]:
    """Per valid US area code, the exchanges phonenumbers accepts (checked on NXX-0100)."""
    import phonenumbers

    found: dict[int, np.ndarray] = {}
    for area in range(201, 990):
        probe = phonenumbers.PhoneNumber(country_code=1, national_number=area * 10**7 + 5550100)
        if not phonenumbers.is_valid_number_for_region(probe, "US"):
            continue
        exchanges = [
            nxx
            for nxx in range(200, 1000)
            if phonenumbers.is_valid_number_for_region(
                phonenumbers.PhoneNumber(
                    country_code=1, national_number=area * 10**7 + nxx * 10**4 + 100
                ),
                "US",
            )
            and phonenumbers.is_valid_number_for_region(
                phonenumbers.PhoneNumber(
                    country_code=1, national_number=area * 10**7 + nxx * 10**4 + 9999
                ),
                "US",
            )
        ]
        if len(exchanges) >= 600:
            found[area] = np.array(exchanges, dtype=np.int64)
    return found


def _zip(name: str, body: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(name, body)
    return buffer.getvalue()


def _generate_us(root: str, size: int, seed: int) -> dict[str, Any]:
    """Two daily full downloads of a ``size``-number registry, written area code by area code."""
    from cm_pipelines.domain.dncr.ftc_files import format_ftc_lines
    from cm_pipelines.platform import landing

    rng = np.random.default_rng(seed)
    exchanges = _valid_exchanges()
    per_area = DENSITY * 800 * 10_000
    areas = sorted(exchanges)[: max(1, math.ceil(size / per_area))]
    quota = size / len(areas)
    totals = {"previous": 0, "current": 0, "areas": len(areas), "zip_bytes": 0}
    store = Path(root) / "store"
    for area in areas:
        valid = exchanges[area]
        capacity = valid.size * 10_000
        density = min(quota / capacity, 0.9)
        picked = np.flatnonzero(rng.random(capacity) < density)
        numbers = US_BASE + area * 10**7 + valid[picked // 10_000] * 10_000 + picked % 10_000
        keep = rng.random(numbers.size) >= CHURN / 2
        unpicked = np.flatnonzero(rng.random(capacity) < CHURN / 2 * density)
        fresh = US_BASE + area * 10**7 + valid[unpicked // 10_000] * 10_000 + unpicked % 10_000
        current = np.union1d(numbers[keep], fresh)
        for day, values in ((PREVIOUS_DAY, numbers), (CURRENT_DAY, current)):
            data = _zip(f"{area}.txt", format_ftc_lines(values))
            target = store / landing.registry_full_dir("us_ftc", day) / f"{area}.zip"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            totals["zip_bytes"] += len(data)
        totals["previous"] += int(numbers.size)
        totals["current"] += int(current.size)
    return totals


def _generate_au(root: str, size: int, seed: int) -> dict[str, Any]:
    """One wash-result file of ``size`` AU mobile numbers (valid 6-digit prefixes only)."""
    import phonenumbers

    from cm_pipelines.platform import landing

    rng = np.random.default_rng(seed + 1)
    prefixes = np.array(
        [
            p
            for p in range(400_000, 500_000)
            if phonenumbers.is_valid_number_for_region(
                phonenumbers.PhoneNumber(country_code=61, national_number=p * 1000), "AU"
            )
            and phonenumbers.is_valid_number_for_region(
                phonenumbers.PhoneNumber(country_code=61, national_number=p * 1000 + 999), "AU"
            )
        ],
        dtype=np.int64,
    )
    picked = rng.choice(prefixes.size * 1000, size=size, replace=False)
    numbers = 61 * 10**9 + prefixes[picked // 1000] * 1000 + picked % 1000
    rows = np.empty((size, 25), dtype=np.uint8)
    for position in range(11):
        rows[:, position] = (numbers // 10 ** (10 - position)) % 10 + 48
    rows[:, 11] = ord(",")
    rows[:, 12] = np.where(rng.random(size) < 0.3, ord("Y"), ord("N"))
    rows[:, 13] = ord(",")
    rows[:, 14:24] = np.frombuffer(AU_WASH_DAY.encode(), dtype=np.uint8)
    rows[:, 24] = ord("\n")
    target = Path(root) / "store" / landing.wash_results_dir("au_acma") / "wash_bench.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"phone_number,registered,wash_date\n" + rows.tobytes())
    return {"numbers": size, "bytes": target.stat().st_size}


def _resources(root: str) -> dict[str, Any]:
    from cm_pipelines.resources import (
        ObjectStoreResource,
        PlatformConfigResource,
        WarehouseResource,
    )

    warehouse = WarehouseResource(url=f"sqlite:///{Path(root) / 'warehouse.db'}")
    warehouse.upgrade()
    return {
        "warehouse": warehouse,
        "object_store": ObjectStoreResource(url=f"file://{Path(root) / 'store'}"),
        "platform_config": PlatformConfigResource(),
    }


def _refresh(root: str, registry_id: str, as_of: str) -> dict[str, Any]:
    """One ``dncr_registry_refresh_job`` run; per-step seconds from the run's events."""
    import dagster as dg

    from cm_pipelines.dncr import assets as dncr_assets
    from cm_pipelines.dncr import checks as dncr_checks
    from cm_pipelines.dncr.jobs import dncr_registry_refresh_job
    from cm_pipelines.dncr.run_config import refresh_run_config

    defs = dg.Definitions(
        assets=dg.load_assets_from_modules([dncr_assets]),
        asset_checks=dg.load_asset_checks_from_modules([dncr_checks]),
        jobs=[dncr_registry_refresh_job],
        resources=_resources(root),
    )
    job = defs.resolve_job_def("dncr_registry_refresh_job")
    started = time.perf_counter()
    result = job.execute_in_process(
        run_config=refresh_run_config([registry_id], as_of=as_of),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    seconds = time.perf_counter() - started
    steps = {
        event.step_key: event.event_specific_data.duration_ms / 1000
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }
    promoted = {}
    for event in result.get_asset_materialization_events():
        item = event.materialization
        if item and item.asset_key.path == ["dncr_registry_promotion"]:
            promoted = item.metadata["promoted"].value
    return {
        "success": result.success,
        "work_seconds": seconds,
        "steps": steps,
        "promoted": promoted,
    }


def _active_numbers(root: str, registry_id: str) -> np.ndarray:
    from cm_pipelines.dncr.refresh.registry_versions import active_version, read_version

    resources = _resources(root)
    with resources["warehouse"].connect() as connection:
        row = active_version(connection, registry_id)
    assert row is not None, f"no active {registry_id} version"
    return read_version(resources["object_store"], row).numbers


def _queries(numbers: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 2)
    listed = numbers[rng.integers(0, numbers.size, count // 2)]
    anywhere = rng.integers(int(numbers[0]), int(numbers[-1]) + 1, count - count // 2)
    queries = np.concatenate([listed, anywhere])
    rng.shuffle(queries)
    return queries


def _lookup(root: str, registry_id: str, count: int, seed: int) -> dict[str, Any]:
    from cm_pipelines.domain.dncr.number_index import NumberIndex

    numbers = _active_numbers(root, registry_id)
    queries = _queries(numbers, count, seed)
    before = _rss_mb()
    started = time.perf_counter()
    index = NumberIndex(numbers)
    build = time.perf_counter() - started
    grown = _rss_mb() - before
    index.contains(queries[: min(count, 100_000)])  # warm the table and page in the bitmaps
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        found = index.contains(queries)
        timings.append(time.perf_counter() - started)
    sample = queries[:1_000_000]
    positions = np.minimum(np.searchsorted(numbers, sample), numbers.size - 1)
    assert np.array_equal(found[: sample.size], numbers[positions] == sample), "index disagrees"
    return {
        "registry": int(numbers.size),
        "queries": int(count),
        "hits": int(found.sum()),
        "build_seconds": build,
        "lookup_seconds": min(timings),
        "structure_mb": index.nbytes / 2**20,
        "rss_growth_mb": grown,
        "bitmap_blocks": index.dense_blocks,
    }


def _baseline(
    root: str, registry_id: str, count: int, sizes: list[int], seed: int
) -> dict[str, Any]:
    import pandas as pd

    numbers = _active_numbers(root, registry_id)
    queries = _queries(numbers, count, seed)
    points = []
    for size in sizes:
        started = time.perf_counter()
        pd.Series(queries[:size]).isin(numbers)
        points.append((size, time.perf_counter() - started))
    (n1, t1), (n2, t2) = points
    per_query = max((t2 - t1) / (n2 - n1), 0.0)
    fixed = max(t1 - per_query * n1, 0.0)
    return {"points": points, "extrapolated_seconds": fixed + per_query * count}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="Fraction of the US/AU sizes.")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workdir", default="", help="Keep generated data here (default: temp).")
    args = parser.parse_args(argv)
    registry_size = max(200_000, int(FULL_REGISTRY * args.scale))
    query_count = max(100_000, int(FULL_QUERIES * args.scale))
    au_size = max(50_000, int(FULL_AU * args.scale))
    baseline_sizes = [max(query_count // 10, 10_000), max(query_count // 2, 50_000)]
    root = args.workdir or tempfile.mkdtemp(prefix="cm_bench_dncr_")
    Path(root).mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        us = run_isolated(_generate_us, root, registry_size, args.seed)
        au = run_isolated(_generate_au, root, au_size, args.seed)
        generation = time.perf_counter() - started
        first = run_isolated(_refresh, root, "us_ftc", FIRST_AS_OF)
        second = run_isolated(_refresh, root, "us_ftc", SECOND_AS_OF)
        lookup = run_isolated(_lookup, root, "us_ftc", query_count, args.seed)
        baseline = run_isolated(_baseline, root, "us_ftc", query_count, baseline_sizes, args.seed)
        au_refresh = run_isolated(_refresh, root, "au_acma", SECOND_AS_OF)
        au_lookup = run_isolated(_lookup, root, "au_acma", query_count, args.seed)
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    fast_rate = lookup["queries"] / lookup["lookup_seconds"]
    slow_rate = query_count / baseline["extrapolated_seconds"]
    print(f"== dncr: registry lookups and guarded refresh (scale {args.scale:g}) ==")
    print(
        f"generated (not timed): US {us['previous']:,} -> {us['current']:,} numbers over "
        f"{us['areas']} area codes ({us['zip_bytes'] / 2**20:,.0f} MB zipped), AU {au['numbers']:,} "
        f"wash results, in {generation:.0f} s"
    )
    print(
        f"lookup    : NumberIndex, {lookup['queries']:,} queries vs {lookup['registry']:,} numbers: "
        f"{lookup['lookup_seconds']:.2f} s = {rate(lookup['queries'], lookup['lookup_seconds'])} "
        f"({lookup['hits']:,} hits; best of 3; answers checked against searchsorted)"
    )
    points = ", ".join(f"{n:,} queries in {t:.1f} s" for n, t in baseline["points"])
    print(
        f"baseline  : pandas.Series.isin on subsamples ({points}); extrapolated (fixed + per-query "
        f"cost) to {query_count:,} queries: {baseline['extrapolated_seconds']:,.0f} s = "
        f"{slow_rate:,.0f}/s"
    )
    print(f"speed-up  : {fast_rate / slow_rate:,.0f}x")
    print(
        f"structure : {lookup['structure_mb']:,.0f} MB resident ({lookup['bitmap_blocks']} bitmap "
        f"blocks; process RSS grew {lookup['rss_growth_mb']:,.0f} MB), built in "
        f"{lookup['build_seconds']:.1f} s"
    )
    for label, run in (
        ("first refresh (no previous)", first),
        ("full refresh (with diff)", second),
    ):
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(run["steps"].items()))
        print(
            f"{label:<28}: {'promoted' if run['success'] and run['promoted'] else 'FAILED'} "
            f"{sum(int(p['numbers']) for p in run['promoted'].values()):,} numbers in "
            f"{run['work_seconds']:.1f} s (job), peak RSS {run['peak_rss_mb']:,.0f} MB [{steps}]"
        )
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(au_refresh["steps"].items()))
    print(
        f"AU scale  : wash-result refresh of {au['numbers']:,} numbers in "
        f"{au_refresh['work_seconds']:.1f} s, peak RSS {au_refresh['peak_rss_mb']:,.0f} MB "
        f"({'promoted' if au_refresh['success'] else 'FAILED'}) [{steps}]; lookups "
        f"{rate(au_lookup['queries'], au_lookup['lookup_seconds'])} against "
        f"{au_lookup['registry']:,} numbers, structure {au_lookup['structure_mb']:,.0f} MB"
    )


if __name__ == "__main__":
    main()
