"""DSAR locate with its text part on PostgreSQL: identifier index vs the old transcript text scan.

A fresh database (created by the bench through the ``postgres`` maintenance database, never the
test suite's ``test``) is migrated and loaded as ``bench_dsar_locate`` loads it (``--calls`` call
records by COPY, CRM links, indexes rebuilt, ANALYZE), then ``--transcripts`` transcripts of the
benchmark tenant are loaded by COPY. Each names one or two people's numbers, written
(``0412 345 678``) or spoken digit by digit inside the sentence; the subject is named in a few
dozen of them (spoken, written and by email spelled out). The identifier index is then built by
the real service (``dsar.identifier_index.reindex``, what ingestion runs per partition).

Measured in the same run, on the same subject: ``locate(scan_text=True)`` (the fulfilment path:
calls, CRM links, artefacts, number records, and the transcripts naming the subject) through the
index, and the same call with ``text_via_index=False``, which reads and parses every transcript
of the tenant. Both must return the same items (asserted). Load average and peak RSS printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from benchmarks.bench_dsar_locate import (
    OTHER_TENANT,
    SUBJECT,
    SUBJECT_EMAIL,
    TENANT,
    _create_database,
    _drop_database,
    load,
)

DEFAULT_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
KEY = bytes.fromhex("b3" * 32)
BATCH = 50_000
WORDS = ["oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SUBJECT_SPOKEN = "oh four nine one five seven oh one five six"
SUBJECT_WRITTEN = "0491 570 156"
SUBJECT_EMAIL_SPOKEN = "jane dot doe at example dot com"
MENTIONS = {SUBJECT_SPOKEN: 30, SUBJECT_WRITTEN: 10, SUBJECT_EMAIL_SPOKEN: 5}


def _spoken(digits: str) -> str:
    return " ".join(WORDS[int(d)] for d in digits)


def _texts(rng: np.random.Generator, count: int) -> list[str]:
    """Receptionist-style transcripts naming other people's mobiles, spoken or written."""
    numbers = rng.integers(12_000_000, 99_999_999, size=count)
    spoken = rng.random(count) < 0.5
    texts = []
    for n, (number, say) in enumerate(zip(numbers.tolist(), spoken.tolist(), strict=True)):
        digits = f"04{number}"
        said = _spoken(digits) if say else f"{digits[:4]} {digits[4:7]} {digits[7:]}"
        texts.append(
            f"Good morning, Harbour Dental, this is call {n}. I need to move my appointment to "
            f"Thursday at nine thirty. Is this still the best number, {said}? Yes, thanks."
        )
    slots = rng.choice(count, size=sum(MENTIONS.values()), replace=False).tolist()
    for mention, times in MENTIONS.items():
        for _ in range(times):
            slot = slots.pop()
            texts[slot] += f" My partner said to reach her on {mention} as well."
    return texts


def load_transcripts(url: str, count: int, seed: int = 11) -> dict[str, float]:
    """Transcripts of the tenant's first calls (their ids as ``load`` made them), then the
    identifier index built by the service ingestion uses."""
    from cm_pipelines.domain.dsar.planning import TRANSCRIPTS
    from cm_pipelines.dsar.identifier_index import reindex
    from cm_pipelines.resources import WarehouseResource
    from cm_pipelines.resources.bulk_load import bulk_insert
    from cm_pipelines.tables import calls as call_tables

    warehouse = WarehouseResource(url=url)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    texts = _texts(rng, count)
    for start in range(0, count, BATCH):
        seq = range(start, min(count, start + BATCH))
        frame = pd.DataFrame(
            {
                "tenant_id": TENANT,
                "call_id": [f"{1_760_000_000 + s // 7}.{s}" for s in seq],
                "partition_date": date(2026, 11, 1),
                "object_path": [f"landing/transcripts/{TENANT}/b/aws_{s}.json" for s in seq],
                "sha256": "0" * 64,
                "format": "aws",
                "language": "en",
                "text": texts[start : start + BATCH],
                "segments": [[] for _ in seq],
            }
        )
        with warehouse.begin() as connection:
            bulk_insert(connection, call_tables.transcripts, frame)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with warehouse.begin() as connection:
        rows = reindex(connection, TRANSCRIPTS, {TENANT: "AU", OTHER_TENANT: "US"}, KEY)
    with warehouse.get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(sa.text("ANALYZE transcripts"))
        c.execute(sa.text("ANALYZE identifier_index"))
    return {
        "load_seconds": load_seconds,
        "index_seconds": time.perf_counter() - started,
        "index_rows": rows,
    }


def _subject():
    from cm_pipelines.domain.dsar.planning import Subject
    from cm_pipelines.domain.keyed_hash import keyed_hash

    return Subject(
        tenant_id=TENANT,
        country="AU",
        phones=frozenset({SUBJECT}),
        emails=frozenset({SUBJECT_EMAIL}),
        phone_hashes={SUBJECT: keyed_hash(SUBJECT, KEY)},
        email_hashes={SUBJECT_EMAIL: keyed_hash(SUBJECT_EMAIL, KEY)},
    )


def _time(url: str, repeats: int, *, via_index: bool) -> tuple[list[float], list]:
    from cm_pipelines.domain.keyed_hash import keyed_hash
    from cm_pipelines.dsar.locate import locate
    from cm_pipelines.resources import WarehouseResource

    engine = WarehouseResource(url=url).get_engine()
    subject = _subject()
    timings: list[float] = []
    items: list = []
    for _ in range(repeats):
        with engine.connect() as connection:
            started = time.perf_counter()
            items = locate(
                connection,
                subject,
                hash_number=lambda v: keyed_hash(v, KEY),
                scan_text=True,
                text_via_index=via_index,
            )
            timings.append((time.perf_counter() - started) * 1000)
    return timings, sorted(items, key=lambda item: (item.store, item.ref))


def _summary(timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return f"p50 {statistics.median(ordered):10.1f} ms   p95 {p95:10.1f} ms"


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--transcripts", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=15, help="timed locates through the index")
    parser.add_argument("--scan-repeats", type=int, default=3, help="timed locates by text scan")
    parser.add_argument("--pg-admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args(argv)
    name, url = _create_database(args.pg_admin_url)
    try:
        print(
            f"== bench_dsar_index: {args.calls:,} calls + {args.transcripts:,} transcripts "
            f"on PostgreSQL (database {name}) =="
        )
        calls = load(url, args.calls)
        texts = load_transcripts(url, args.transcripts)
        print(
            f"load: calls {calls['load_seconds']:.1f} s + call indexes {calls['index_seconds']:.1f}"
            f" s; transcripts {texts['load_seconds']:.1f} s; identifier index "
            f"{texts['index_rows']:,} rows built in {texts['index_seconds']:.1f} s"
        )
        _time(url, 2, via_index=True)  # warm the cache
        indexed, found = _time(url, args.repeats, via_index=True)
        scanned, found_scan = _time(url, args.scan_repeats, via_index=False)
        assert found == found_scan, "index and text scan must locate the same items"
        texts_found = sum(1 for item in found if item.match == "text")
        print(f"locate via index     ({args.repeats} runs): {_summary(indexed)}")
        print(f"locate via text scan ({args.scan_repeats} runs): {_summary(scanned)}")
        print(
            f"items located {len(found)} (transcripts naming the subject {texts_found}); "
            f"speed-up {statistics.median(scanned) / max(statistics.median(indexed), 1e-9):,.0f}x"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"load average {_load_average()}; peak RSS of the benchmark process {peak:,.0f} MB")
    finally:
        _drop_database(args.pg_admin_url, name)


if __name__ == "__main__":
    main()
