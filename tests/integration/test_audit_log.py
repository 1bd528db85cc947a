"""The audit log in a real warehouse, on SQLite and on PostgreSQL.

The database refuses updates, deletes and inserts that do not extend the chain head; an attacker
with DBA rights who drops those guards is still caught by the hash chain (and, for the newest
rows, by the anchors kept in the object store). Concurrent writers — threads through the
platform's engine, and separate processes on plain engines (on SQLite without the immediate
write transaction that serialises the platform's writers) — never fork the chain.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from cm_pipelines.domain.trust.audit_chain import ChainAnchor
from cm_pipelines.platform.audit_log import AuditEntryRefused, append_audit
from cm_pipelines.resources import ObjectStoreResource, WarehouseResource
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.trust.chain import (
    anchor_path,
    load_anchors,
    read_chain,
    record_anchor,
    verify_warehouse_chain,
)
from tests.integration.audit_writer import unlocked_writer

ENTRIES = 6


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def warehouse(request: pytest.FixtureRequest) -> WarehouseResource:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_warehouse")
    return request.getfixturevalue("postgres_warehouse")


def _append(warehouse: WarehouseResource, count: int = ENTRIES, **overrides) -> list[dict]:
    written = []
    with warehouse.begin() as connection:
        for index in range(count):
            fields = {
                "actor": "schedule:retention",
                "action": "retention.purge",
                "tenant_id": "acme-au",
                "object_refs": {"manifest": f"purge-{index}", "call_ids": ["1763630102.421"]},
                "details": {
                    "rows": index,
                    "bytes": 2**40 + index,
                    "ratio": 0.25,
                    "day": date(2026, 3, 1),
                },
                "run_id": f"run-{index}",
            }
            fields.update(overrides)
            written.append(append_audit(connection, **fields))
    return written


def _verdict(warehouse: WarehouseResource, anchors=()):
    with warehouse.connect() as connection:
        return verify_warehouse_chain(connection, anchors)


def _drop_guards(warehouse: WarehouseResource) -> None:
    """What an attacker with DBA rights does first."""
    with warehouse.begin() as connection:
        if warehouse.dialect == "postgresql":
            connection.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_extends_head"):
                connection.execute(sa.text(f"DROP TRIGGER {name}"))


def test_entries_round_trip_and_verify(warehouse: WarehouseResource) -> None:
    written = _append(warehouse)
    with warehouse.connect() as connection:
        stored = read_chain(connection)
    assert [entry["seq"] for entry in stored] == list(range(1, ENTRIES + 1))
    assert [entry["entry_hash"] for entry in stored] == [entry["entry_hash"] for entry in written]
    assert stored[2]["details"]["day"] == "2026-03-01"
    verdict = _verdict(warehouse)
    assert verdict.ok and verdict.head_seq == ENTRIES
    assert verdict.head_hash == written[-1]["entry_hash"]


def test_unusual_but_legal_values_still_verify(warehouse: WarehouseResource) -> None:
    with warehouse.begin() as connection:
        append_audit(
            connection,
            actor="cli:opérateur ünïcode",
            action="dsar.note",
            object_refs={"keys": ["a'b", 'q"uote', "; DROP TABLE audit_log; --"], "n": None},
            details={"nested": {"deep": [1, 2.5, True, {"x": "\u2603"}]}, 7: "int key"},
            occurred_at=datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        )
    assert _verdict(warehouse).ok
    with warehouse.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'cli:intruder' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log",
    ],
)
def test_the_database_refuses_changes_to_written_entries(
    warehouse: WarehouseResource, statement: str
) -> None:
    _append(warehouse)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with warehouse.begin() as connection:
            connection.execute(sa.text(statement))
    assert _verdict(warehouse).ok


@pytest.mark.integration
def test_postgresql_refuses_truncate(postgres_warehouse: WarehouseResource) -> None:
    _append(postgres_warehouse)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with postgres_warehouse.begin() as connection:
            connection.execute(sa.text("TRUNCATE audit_log"))


def test_the_database_refuses_an_insert_that_forks_the_chain(warehouse: WarehouseResource) -> None:
    written = _append(warehouse, 3)
    fork = dict(written[1])  # a second entry 3 after entry 2, or an entry 4 pointing at entry 2
    for seq, prev_hash in ((3, written[1]["entry_hash"]), (4, written[1]["entry_hash"])):
        row = {**fork, "seq": seq, "prev_hash": prev_hash, "entry_hash": f"{seq:064x}"}
        with pytest.raises(sa.exc.DBAPIError):
            with warehouse.begin() as connection:
                connection.execute(sa.insert(audit_log).values(**row))
    assert _verdict(warehouse).head_seq == 3


def test_personal_data_is_refused_before_anything_is_written(warehouse: WarehouseResource) -> None:
    _append(warehouse, 2)
    number, email = "+61 491 570 156", "jane.doe@example.com"
    for refs, details in (
        ({"subject": number}, {}),
        ({}, {"note": f"called back on 0491570156 and wrote to {email}"}),
        ({"e164": ["+12125550147"]}, {}),
    ):
        with pytest.raises(AuditEntryRefused) as caught:
            with warehouse.begin() as connection:
                append_audit(
                    connection,
                    actor="cli:op",
                    action="dsar.open",
                    object_refs=refs,
                    details=details,
                )
        assert number not in str(caught.value) and email not in str(caught.value)
    assert _verdict(warehouse).head_seq == 2


@pytest.mark.parametrize(
    "field,value",
    [
        ("actor", "cli:op\x1b[31m"),
        ("actor", "x" * 129),
        ("action", "purge'; DROP TABLE audit_log; --"),
        ("action", ""),
        ("tenant_id", "../acme-au"),
        ("tenant_id", "acme-au\nbeta-us"),
        ("run_id", "r" * 65),
        ("details", {"blob": "x" * 70_000}),
        ("details", {"value": float("nan")}),
        ("details", {"object": object()}),
        ("object_refs", ["not", "a", "mapping"]),
    ],
)
def test_hostile_fields_are_refused_with_a_clear_message(
    sqlite_warehouse: WarehouseResource, field: str, value
) -> None:
    fields = {"actor": "cli:op", "action": "dsar.open", field: value}
    with pytest.raises(AuditEntryRefused, match=f"audit {field}"):
        with sqlite_warehouse.begin() as connection:
            append_audit(connection, **fields)
    assert _verdict(sqlite_warehouse).head_seq == 0


# --- tampering by someone who drops the guards first -------------------------------------------


def _rows(warehouse: WarehouseResource) -> dict[int, dict]:
    with warehouse.connect() as connection:
        return {entry["seq"]: entry for entry in read_chain(connection)}


def test_an_updated_row_is_named(warehouse: WarehouseResource) -> None:
    _append(warehouse)
    _drop_guards(warehouse)
    with warehouse.begin() as connection:
        connection.execute(
            sa.update(audit_log).where(audit_log.c.seq == 4).values(details={"rows": 0})
        )
    verdict = _verdict(warehouse)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 4, "altered")


def test_a_deleted_row_is_named(warehouse: WarehouseResource) -> None:
    _append(warehouse)
    _drop_guards(warehouse)
    with warehouse.begin() as connection:
        connection.execute(sa.delete(audit_log).where(audit_log.c.seq == 2))
    verdict = _verdict(warehouse)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 2, "removed")


def test_a_deleted_newest_row_is_named_through_the_stored_anchor(
    warehouse: WarehouseResource, local_store: ObjectStoreResource
) -> None:
    _append(warehouse)
    path = record_anchor(local_store, _verdict(warehouse), run_id="run-anchor")
    assert path == anchor_path(ChainAnchor(ENTRIES, _rows(warehouse)[ENTRIES]["entry_hash"]))
    _drop_guards(warehouse)
    with warehouse.begin() as connection:
        connection.execute(sa.delete(audit_log).where(audit_log.c.seq == ENTRIES))
    assert _verdict(warehouse).ok  # the chain alone cannot tell
    verdict = _verdict(warehouse, load_anchors(local_store))
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, ENTRIES, "removed")


def test_two_swapped_rows_are_named(warehouse: WarehouseResource) -> None:
    _append(warehouse)
    _drop_guards(warehouse)
    rows = _rows(warehouse)
    columns = [c.name for c in audit_log.columns if c.name != "seq"]
    with warehouse.begin() as connection:
        update = sa.update(audit_log)
        connection.execute(update.where(audit_log.c.seq == 2).values(entry_hash="swap"))
        connection.execute(
            update.where(audit_log.c.seq == 5).values(**{c: rows[2][c] for c in columns})
        )
        connection.execute(
            update.where(audit_log.c.seq == 2).values(**{c: rows[5][c] for c in columns})
        )
    verdict = _verdict(warehouse)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 2, "reordered")


def test_a_broken_chain_is_never_anchored(
    sqlite_warehouse: WarehouseResource, local_store: ObjectStoreResource
) -> None:
    _append(sqlite_warehouse)
    _drop_guards(sqlite_warehouse)
    with sqlite_warehouse.begin() as connection:
        connection.execute(sa.delete(audit_log).where(audit_log.c.seq == 3))
    assert record_anchor(local_store, _verdict(sqlite_warehouse)) is None
    assert load_anchors(local_store) == []


def test_a_damaged_anchor_file_is_reported(local_store: ObjectStoreResource) -> None:
    from cm_pipelines.trust.chain import ANCHORS_DIR, AnchorUnreadable

    local_store.write_bytes(f"{ANCHORS_DIR}/head-000000000001-x.json", b"{not json")
    with pytest.raises(AnchorUnreadable, match="cannot be read"):
        load_anchors(local_store)


# --- concurrency ----------------------------------------------------------------------------------

THREADS = 4
PER_WRITER = 15


def test_concurrent_threads_never_fork_the_chain(warehouse: WarehouseResource) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def writer(number: int) -> None:
        try:
            barrier.wait()
            for index in range(PER_WRITER):
                with warehouse.begin() as connection:
                    append_audit(
                        connection,
                        actor=f"thread:{number}",
                        action="test.concurrent",
                        details={"index": index},
                    )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verdict = _verdict(warehouse)
    assert verdict.ok and verdict.head_seq == THREADS * PER_WRITER
    actors = [entry["actor"] for entry in _rows(warehouse).values()]
    assert {actor: actors.count(actor) for actor in set(actors)} == {
        f"thread:{n}": PER_WRITER for n in range(THREADS)
    }


def test_writer_processes_on_plain_engines_never_fork_the_chain(
    warehouse: WarehouseResource,
) -> None:
    processes, per_process = 3, 10
    url = warehouse.resolved_url()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        results = list(
            pool.map(
                unlocked_writer, [url] * processes, range(processes), [per_process] * processes
            )
        )
    assert all(refused >= 0 for refused in results)
    verdict = _verdict(warehouse)
    assert verdict.ok and verdict.head_seq == processes * per_process
    actors = [entry["actor"] for entry in _rows(warehouse).values()]
    assert sorted(set(actors)) == [f"process:{n}" for n in range(processes)]
    assert all(actors.count(f"process:{n}") == per_process for n in range(processes))


def test_the_trust_migration_removes_and_restores_its_guards(warehouse: WarehouseResource) -> None:
    from alembic import command

    from cm_pipelines.resources.warehouse import alembic_config

    _append(warehouse, 2)
    config = alembic_config(warehouse.resolved_url())
    command.downgrade(config, "0004_dsar")
    with warehouse.begin() as connection:
        connection.execute(sa.text("UPDATE audit_log SET actor = 'cli:other' WHERE seq = 1"))
    command.upgrade(config, "head")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with warehouse.begin() as connection:
            connection.execute(sa.text("UPDATE audit_log SET actor = 'cli:again' WHERE seq = 1"))
    assert _verdict(warehouse).problem == "altered"
