"""Washing as users run it: the vectorised path against the row path, in the same run.

Generated data (not timed): a US registry of ``--registry`` numbers (real area codes, exchanges
200-999, as the FTC file holds them) loaded into ``NumberIndex`` as washing loads it, a
wash-only AU registry with results of several days, a campaign list of ``--numbers`` entries
written as lists write them (E.164, national, punctuated; 2 % malformed; duplicates; half of the
valid US numbers listed), consents for 1 % of the numbers and a suppression list of 0.1 %.

Measured, each variant in its own spawned process (peak RSS is its own):

- *from parsed numbers*: ``wash_fast`` on numbers already prepared, against ``wash``;
- *list file to output file*: read the list CSV (pyarrow, strings), prepare (normalise, hash),
  wash, write the decisions CSV: ``prepare_numbers_fast`` + ``wash_fast`` against
  ``prepare_numbers`` + ``wash``.

The row path runs at ``--row-numbers`` (it decides some thousands of numbers a second) and is
reported at its own size. Load average is printed beside the figures (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.measure import rate, run_isolated

KEY = b"bench-key-0123456789abcdef012345"
AREAS = (201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219)
WASHED_AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _registry(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    areas = np.array(AREAS, dtype=np.int64)[rng.integers(0, len(AREAS), size)]
    rest = rng.integers(2_000_000, 10_000_000, size)
    values = np.sort(10**10 + areas * 10**7 + rest)
    keep = np.r_[True, values[1:] != values[:-1]]
    return values[keep]


def _list_numbers(registry: np.ndarray, count: int, seed: int) -> list[str]:
    """Half listed, half random US numbers; AU mobiles; every written form; 2 % malformed."""
    rng = np.random.default_rng(seed + 1)
    listed = registry[rng.integers(0, registry.size, count // 2)]
    others = 10**10 + np.array(AREAS)[rng.integers(0, len(AREAS), count - listed.size)] * 10**7
    others = others + rng.integers(2_000_000, 10_000_000, others.size)
    numbers = np.concatenate([listed, others])
    au = rng.random(count) < 0.05
    numbers[au] = 61_400_000_000 + rng.integers(0, 100_000_000, int(au.sum()))
    rng.shuffle(numbers)
    digits = numbers.astype(str)
    form = rng.integers(0, 4, count)
    national = np.char.lstrip(digits, "1")
    written = np.where(form == 0, np.char.add("+", digits), national)
    written = np.where(form == 2, np.char.add("+1 ", national), written)
    written = np.where(form == 3, np.char.add(" ", national), written)
    # a US list writes foreign numbers internationally
    written = np.where(np.char.startswith(digits, "61"), np.char.add("+", digits), written)
    bad = rng.random(count) < 0.02
    written[bad] = "n/a"
    return written.tolist()


def _evidence(registry: np.ndarray) -> list:
    from cm_pipelines.domain.dncr.evidence import (
        DownloadableEvidence,
        WashOnlyEvidence,
        evidence_instant,
    )
    from cm_pipelines.domain.dncr.number_index import NumberIndex
    from cm_pipelines.domain.dncr.registries import Registry

    ftc = Registry("us_ftc", "FTC", "US", "downloadable", 31, "America/New_York", "ftc_flat_zip")
    acma = Registry("au_acma", "ACMA", "AU", "wash_only", 30, "Australia/Sydney", "wash_result_csv")
    au = np.arange(61_400_000_000, 61_400_000_000 + 2_000_000, 20, dtype=np.int64)
    days = np.datetime64("2026-11-19") - (np.arange(au.size) % 45).astype("timedelta64[D]")
    return [
        DownloadableEvidence(
            ftc, "v-ftc", evidence_instant(ftc, date(2026, 11, 2)), NumberIndex(registry)
        ),
        WashOnlyEvidence(acma, "v-acma", NumberIndex(au), au % 3 == 0, days),
    ]


def _side_inputs(raw: list[str]) -> tuple[set[str], Any]:
    import pandas as pd

    from cm_pipelines.domain.keyed_hash import keyed_hash

    sample = [f"+1{n.lstrip('+1 ')}" for n in raw[: max(1, len(raw) // 100)] if n != "n/a"]
    suppressed = {keyed_hash(n, KEY) for n in sample[: max(1, len(sample) // 10)]}
    consents = pd.DataFrame(
        {
            "e164_hash": [keyed_hash(n, KEY) for n in sample],
            "kind": ["express_consent", "transaction"] * (len(sample) // 2)
            + ["inquiry"] * (len(sample) % 2),
            "recorded_at": WASHED_AT - timedelta(days=30),
            "expires_at": None,
            "revoked_at": None,
            "restricted_at": None,
        }
    )
    return suppressed, consents


def _wash_variant(kind: str, registry_size: int, count: int, seed: int, workdir: str) -> dict:
    """One measured variant: ``parsed-fast``/``parsed-row`` time the decision only;
    ``file-fast``/``file-row`` time list file -> decisions file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from cm_pipelines.domain.dncr.fast_numbers import prepare_numbers_fast
    from cm_pipelines.domain.dncr.fast_washing import wash_fast
    from cm_pipelines.domain.dncr.number_preparation import prepare_numbers
    from cm_pipelines.domain.dncr.washing import wash

    registry = _registry(registry_size, seed)
    evidence = _evidence(registry)
    list_path = Path(workdir) / f"list-{count}.csv"
    if not list_path.exists():
        table = pa.table({"phone": _list_numbers(registry, count, seed)})
        pacsv.write_csv(table, list_path)
    fast = kind.endswith("fast")
    prepare, decide = (prepare_numbers_fast, wash_fast) if fast else (prepare_numbers, wash)
    read = pacsv.read_csv(
        list_path, convert_options=pacsv.ConvertOptions(column_types={"phone": pa.string()})
    )
    raw = read.column("phone").to_pylist()
    suppressed, consents = _side_inputs(raw)
    started = time.perf_counter()
    if kind.startswith("parsed"):
        numbers = prepare(raw, "US", KEY)
        started = time.perf_counter()
    else:
        read = pacsv.read_csv(
            list_path, convert_options=pacsv.ConvertOptions(column_types={"phone": pa.string()})
        )
        numbers = prepare(read.column("phone").to_pylist(), "US", KEY)
    decided = decide(
        numbers,
        evidence=evidence,
        suppressed_hashes=suppressed,
        consents=consents,
        washed_at=WASHED_AT,
        tenant_country="US",
    )
    if kind.startswith("file"):
        out = decided.drop(columns=["calling_window"]).astype(str)
        pacsv.write_csv(pa.Table.from_pandas(out, preserve_index=False), f"{list_path}.{kind}.out")
    seconds = time.perf_counter() - started
    reasons = decided["reason"].value_counts().to_dict()
    return {"numbers": count, "timed_seconds": seconds, "reasons": reasons}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registry", type=int, default=20_000_000)
    parser.add_argument("--numbers", type=int, default=10_000_000)
    parser.add_argument("--row-numbers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(
        f"== bench_wash: registry {args.registry:,}, list {args.numbers:,} (row path {args.row_numbers:,}) =="
    )
    with tempfile.TemporaryDirectory(prefix="cm-bench-wash-") as workdir:
        for kind in ("parsed-fast", "parsed-row", "file-fast", "file-row"):
            count = args.numbers if kind.endswith("fast") else args.row_numbers
            result = run_isolated(_wash_variant, kind, args.registry, count, args.seed, workdir)
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            print(
                f"{kind:12s} {count:>11,} numbers  {result['timed_seconds']:8.2f} s  "
                f"{rate(count, result['timed_seconds']):>14s}  peak RSS {result['peak_rss_mb']:,.0f} MB"
                f"  load {load}"
            )
        print(f"reasons (last variant): {result['reasons']}")


if __name__ == "__main__":
    main()
