"""DSAR locate on PostgreSQL: one subject in a tenant of 10M call records, index path vs full scan.

A fresh database is migrated, then loaded with COPY: ``--rows`` call records (90 % in the
benchmark tenant, 10 % in a second tenant that shares the subject's number), 5 % of calls with a
CRM link, and a few consent / suppression rows. The call indexes are dropped during the load and
rebuilt after it (as a bulk load should), then ANALYZEd.

The measured path is ``cm_pipelines.dsar.locate.locate`` with ``scan_text=False``: the warehouse
part (calls by party through ``ix_calls_src`` / ``ix_calls_dst``, CRM links, artefacts by call
id, number-keyed records). The baseline runs the very same queries with index and bitmap scans
disabled for the transaction (``SET LOCAL enable_indexscan = off``), i.e. full scans. A separate
line times the transcript text scan per 1,000 transcripts, which is linear in the tenant's texts.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import uuid
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

# the maintenance database creates and drops the bench database: benches never touch `test`
DEFAULT_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
TENANT, OTHER_TENANT = "acme-au", "beta-us"
SUBJECT = "+61491570156"
SUBJECT_EMAIL = "jane.doe@example.com"
SUBJECT_CALLS = 24
CHUNK = 1_000_000
NUMBER_POOL = 2_000_000
START = datetime(2026, 1, 1)
TEXTS = 2_000


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _create_database(admin_url: str) -> tuple[str, str]:
    name = f"cm_bench_dsar_{uuid.uuid4().hex[:8]}"
    engine = _admin_engine(admin_url)
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(admin_url: str, name: str) -> None:
    from cm_pipelines.resources import warehouse as warehouse_module

    for url, engine in list(warehouse_module._ENGINES.items()):
        if url.endswith(f"/{name}"):
            engine.dispose()
            warehouse_module._ENGINES.pop(url, None)
    engine = _admin_engine(admin_url)
    with engine.connect() as connection:
        connection.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def _number_pool(rng: np.random.Generator) -> np.ndarray:
    """Distinct AU mobile numbers (+614 then 8 digits), the subject's excluded."""
    drawn = np.sort(rng.integers(10_000_000, 99_999_999, size=NUMBER_POOL))
    digits = drawn[np.concatenate(([True], np.diff(drawn) != 0))]  # distinct, without np.unique
    pool = np.array([f"+614{d}" for d in rng.permutation(digits).tolist()], dtype=object)
    return pool[pool != SUBJECT]


def _calls_chunk(
    rng: np.random.Generator, start: int, count: int, tenant: str, pool: np.ndarray
) -> pd.DataFrame:
    seq = np.arange(start, start + count)
    offsets = rng.integers(0, 365 * 86400, count)
    started = pd.to_datetime(START) + pd.to_timedelta(offsets, unit="s")
    duration = rng.integers(5, 900, count)
    inbound = rng.random(count) < 0.6
    external = pool[rng.integers(0, len(pool), count)]
    business = "+61255501000"
    src = np.where(inbound, external, business)
    dst = np.where(inbound, business, external)
    day = started.normalize()
    return pd.DataFrame(
        {
            "tenant_id": tenant,
            "call_id": [f"{1_760_000_000 + s // 7}.{s}" for s in seq.tolist()],
            "partition_date": day.date,
            "call_date": day.date,
            "started_at": started,
            "ended_at": started + pd.to_timedelta(duration, unit="s"),
            "duration_s": duration,
            "billsec_s": np.maximum(duration - 10, 0),
            "disposition": "ANSWERED",
            "direction": np.where(inbound, "inbound", "outbound"),
            "src_kind": "e164",
            "src_e164": src,
            "dst_kind": "e164",
            "dst_e164": dst,
            "source_file": f"landing/cdr/{tenant}/bench/Master.csv",
            "source_line": seq - start + 1,
        }
    )


def _subject_rows(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The subject is a party of ``SUBJECT_CALLS`` calls of this chunk (caller or callee)."""
    picks = rng.choice(len(frame), size=min(SUBJECT_CALLS, len(frame)), replace=False)
    inbound = frame["direction"].to_numpy()[picks] == "inbound"
    column = frame.columns.get_loc("src_e164")
    other = frame.columns.get_loc("dst_e164")
    frame.iloc[picks[inbound], column] = SUBJECT
    frame.iloc[picks[~inbound], other] = SUBJECT
    return frame.iloc[picks]


def load(url: str, rows: int, seed: int = 5) -> dict[str, Any]:
    from cm_pipelines.resources import WarehouseResource
    from cm_pipelines.resources.bulk_load import bulk_insert
    from cm_pipelines.tables import calls as call_tables
    from cm_pipelines.tables import dncr

    warehouse = WarehouseResource(url=url)
    warehouse.upgrade()
    rng = np.random.default_rng(seed)
    pool = _number_pool(rng)
    calls = call_tables.calls
    started = time.perf_counter()
    with warehouse.begin() as connection:
        for index in calls.indexes:
            index.drop(connection)
    loaded = 0
    subject_calls: list[pd.DataFrame] = []
    crm_rows = 0
    other_rows = rows // 10
    plan = [(TENANT, rows - other_rows), (OTHER_TENANT, other_rows)]
    for tenant, tenant_rows in plan:
        first_chunk = True
        for start in range(0, tenant_rows, CHUNK):
            count = min(CHUNK, tenant_rows - start)
            frame = _calls_chunk(rng, loaded + start, count, tenant, pool)
            if first_chunk:
                subject_calls.append(_subject_rows(frame, rng))
                first_chunk = False
            links = frame.sample(frac=0.05, random_state=int(rng.integers(0, 2**31)))
            crm = pd.DataFrame(
                {
                    "tenant_id": tenant,
                    "call_id": links["call_id"].to_numpy(),
                    "partition_date": links["partition_date"].to_numpy(),
                    "crm_system": "hubspot",
                    "crm_record_id": [
                        f"contact/{n}" for n in range(crm_rows, crm_rows + len(links))
                    ],
                    "contact_e164": np.where(
                        links["direction"] == "inbound", links["src_e164"], links["dst_e164"]
                    ),
                    "contact_email": None,
                    "source_file": f"landing/crm/{tenant}/bench/crm_links.csv",
                    "source_line": np.arange(2, len(links) + 2),
                }
            )
            crm_rows += len(crm)
            with warehouse.begin() as connection:
                bulk_insert(connection, calls, frame)
                bulk_insert(connection, call_tables.crm_links, crm)
        loaded += tenant_rows
    now = datetime(2026, 11, 1)
    with warehouse.begin() as connection:
        for tenant in (TENANT, OTHER_TENANT):
            connection.execute(
                sa.insert(dncr.consents).values(
                    tenant_id=tenant,
                    e164=SUBJECT,
                    e164_hash="hk1:bench",
                    kind="express_consent",
                    recorded_at=now,
                    source_file="landing/consents/bench.csv",
                    source_line=2,
                )
            )
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with warehouse.begin() as connection:
        for index in calls.indexes:
            index.create(connection)
    engine = warehouse.get_engine()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("ANALYZE"))
    index_seconds = time.perf_counter() - started
    return {
        "rows": loaded,
        "crm_links": crm_rows,
        "subject_calls_here": len(subject_calls[0]),
        "load_seconds": load_seconds,
        "index_seconds": index_seconds,
    }


def _subject():
    from cm_pipelines.domain.dsar.planning import Subject

    return Subject(
        tenant_id=TENANT,
        country="AU",
        phones=frozenset({SUBJECT}),
        emails=frozenset({SUBJECT_EMAIL}),
        phone_hashes={SUBJECT: "hk1:bench"},
        email_hashes={SUBJECT_EMAIL: "hk1:bench-email"},
    )


def _time_locate(url: str, repeats: int, *, full_scan: bool) -> tuple[list[float], int]:
    from cm_pipelines.dsar.locate import locate
    from cm_pipelines.resources import WarehouseResource

    engine = WarehouseResource(url=url).get_engine()
    subject = _subject()
    timings: list[float] = []
    found = 0
    for _ in range(repeats):
        with engine.begin() as connection:
            if full_scan:
                connection.execute(sa.text("SET LOCAL enable_indexscan = off"))
                connection.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
                connection.execute(sa.text("SET LOCAL enable_indexonlyscan = off"))
            started = time.perf_counter()
            items = locate(connection, subject, hash_number=lambda v: f"hk1:{v}", scan_text=False)
            timings.append((time.perf_counter() - started) * 1000)
            found = sum(1 for item in items if item.store == "calls")
    return timings, found


def _plan_of_party_query(url: str) -> str:
    from cm_pipelines.resources import WarehouseResource

    with WarehouseResource(url=url).connect() as connection:
        plan = connection.execute(
            sa.text("EXPLAIN SELECT call_id FROM calls WHERE tenant_id = :t AND src_e164 IN (:n)"),
            {"t": TENANT, "n": SUBJECT},
        ).all()
    return " / ".join(row[0].strip() for row in plan[:2])


def _text_scan(url: str) -> dict[str, float]:
    """Transcript text scan: the part of locate that reads texts, per 1,000 transcripts."""
    from cm_pipelines.dsar.locate import scan_texts
    from cm_pipelines.resources import WarehouseResource
    from cm_pipelines.resources.bulk_load import bulk_insert
    from cm_pipelines.tables import calls as call_tables

    warehouse = WarehouseResource(url=url)
    texts = [
        f"Good morning, Harbour Dental. Hi, it's caller {n}, I need to move my appointment. "
        f"Is this still the best number, oh four one two three four five {n % 10} {n % 7} {n % 3}? "
        f"Yes, or email caller{n}@example.org."
        for n in range(TEXTS)
    ]
    frame = pd.DataFrame(
        {
            "tenant_id": TENANT,
            "call_id": [f"text.{n}" for n in range(TEXTS)],
            "partition_date": date(2026, 11, 1),
            "object_path": [f"landing/transcripts/{TENANT}/x/aws_{n}.json" for n in range(TEXTS)],
            "sha256": "0" * 64,
            "format": "aws",
            "language": "en",
            "text": texts,
            "segments": [[] for _ in range(TEXTS)],
        }
    )
    with warehouse.begin() as connection:
        bulk_insert(connection, call_tables.transcripts, frame)
    started = time.perf_counter()
    with warehouse.connect() as connection:
        scan_texts(connection, call_tables.transcripts, _subject(), set())
    seconds = time.perf_counter() - started
    return {"texts": TEXTS, "ms_per_1000": seconds * 1000 / (TEXTS / 1000)}


def _summary(timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return f"median {statistics.median(ordered):9.1f} ms   p95 {p95:9.1f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="call records to load")
    parser.add_argument("--repeats", type=int, default=15, help="timed locates per variant")
    parser.add_argument("--baseline-repeats", type=int, default=3)
    parser.add_argument("--pg-admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args(argv)
    name, url = _create_database(args.pg_admin_url)
    try:
        print(f"== bench_dsar_locate: {args.rows:,} call records on PostgreSQL ==")
        loaded = load(url, args.rows)
        print(
            f"load (COPY, indexes rebuilt after): {loaded['rows']:,} calls + "
            f"{loaded['crm_links']:,} CRM links in {loaded['load_seconds']:.1f} s, "
            f"indexes + ANALYZE {loaded['index_seconds']:.1f} s"
        )
        print(f"plan of the party query: {_plan_of_party_query(url)}")
        _time_locate(url, 2, full_scan=False)  # warm the cache
        indexed, found = _time_locate(url, args.repeats, full_scan=False)
        scanned, found_scan = _time_locate(url, args.baseline_repeats, full_scan=True)
        assert found == found_scan, "the two paths must find the same calls"
        print(f"locate, indexes   ({args.repeats} runs): {_summary(indexed)}   calls found {found}")
        print(f"locate, full scan ({args.baseline_repeats} runs): {_summary(scanned)}")
        speedup = statistics.median(scanned) / max(statistics.median(indexed), 1e-9)
        print(f"speed-up {speedup:,.0f}x; target < 100 ms for the warehouse part")
        text = _text_scan(url)
        print(
            f"transcript text scan: {text['ms_per_1000']:.0f} ms per 1,000 transcripts "
            f"({text['texts']:,} scanned; linear in the tenant's transcripts)"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the benchmark process: {peak:,.0f} MB")
    finally:
        _drop_database(args.pg_admin_url, name)


if __name__ == "__main__":
    main()
