"""The registry refresh job (both registry kinds, change lists, every blocking check) and the wash
job (every reason, evidence records, exports, restrictions), on SQLite and a local folder."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.dncr.refresh.version_parquet import parquet_to_numbers
from cm_pipelines.domain.dncr.content_hashing import sha256_hex
from cm_pipelines.domain.dncr.ftc_files import format_ftc_lines
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.platform import landing
from cm_pipelines.platform.settings import identifier_hash_key
from cm_pipelines.resources import ObjectStoreResource, WarehouseResource
from cm_pipelines.tables import dncr as tables
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.calls import quarantine
from cm_pipelines.tables.dsar import restrictions
from tests.dncr.dncr_helpers import (
    active_rows,
    failure_message,
    ftc_full_files,
    materialization,
    refresh,
    registries_config,
    us_numbers,
    version_rows,
    wash_tenants,
    write_campaign,
    write_changes,
    write_consents,
    write_full,
    write_wash_results,
    zip_member,
)
from tests.run_failures import assert_one_line_reason

DAY1, DAY1_AS_OF = "2026-11-01", "2026-11-02T12:00:00+00:00"
DAY2, DAY2_AS_OF = "2026-11-03", "2026-11-04T12:00:00+00:00"
BASE = us_numbers(3000)


@pytest.fixture
def resources(sqlite_warehouse, local_store, tmp_path: Path) -> dict[str, Any]:
    return {
        "warehouse": sqlite_warehouse,
        "object_store": local_store,
        "platform_config": registries_config(tmp_path, us_ftc={"max_bad_line_ratio": 0.01}),
    }


def audit_entries(warehouse: WarehouseResource, action: str) -> list[dict[str, Any]]:
    with warehouse.connect() as connection:
        rows = connection.execute(
            sa.select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.seq)
        ).mappings()
        return [dict(row) for row in rows]


def first_version(resources: dict[str, Any]) -> dict[str, Any]:
    write_full(resources["object_store"], "us_ftc", DAY1, BASE)
    result = refresh(resources, ["us_ftc"], as_of=DAY1_AS_OF)
    assert result.success, failure_message(result)
    [active] = active_rows(resources["warehouse"], "us_ftc")
    return active


def test_a_full_download_becomes_the_active_version_with_its_evidence(resources) -> None:
    active = first_version(resources)
    store: ObjectStoreResource = resources["object_store"]
    assert active["number_count"] == 3000 and active["source_kind"] == "full"
    assert active["data_as_of"].date().isoformat() == DAY1
    data = store.read_bytes(active["parquet_path"])
    assert sha256_hex(data) == active["parquet_sha256"]
    assert parquet_to_numbers(data).numbers.tolist() == BASE.tolist()
    assert {item["path"].rsplit("/", 1)[-1] for item in active["source_files"]} == {
        "212.zip",
        "415.zip",
    }
    assert all(len(item["sha256"]) == 64 for item in active["source_files"])
    [promoted] = audit_entries(resources["warehouse"], "dncr.registry_version_promoted")
    assert promoted["object_refs"]["version_id"] == active["version_id"]
    assert promoted["details"]["number_count"] == 3000
    assert active["added_count"] == 3000 and active["removed_count"] == 0


def test_a_change_list_is_applied_to_the_active_version(resources) -> None:
    first = first_version(resources)
    additions = us_numbers(25, start=8000)
    deletions = BASE[:10]
    write_changes(resources["object_store"], "us_ftc", "2026-11-05", additions, deletions)
    result = refresh(resources, ["us_ftc"], as_of="2026-11-06T12:00:00+00:00")
    assert result.success, failure_message(result)
    rows = {row["version_id"]: row for row in version_rows(resources["warehouse"], "us_ftc")}
    assert rows[first["version_id"]]["status"] == "superseded"
    [active] = active_rows(resources["warehouse"], "us_ftc")
    assert active["source_kind"] == "changes"
    assert (active["number_count"], active["change_additions"], active["change_deletions"]) == (
        3015,
        25,
        10,
    )
    assert active["previous_version_id"] == first["version_id"]
    content = parquet_to_numbers(resources["object_store"].read_bytes(active["parquet_path"]))
    expected = sorted(set(BASE.tolist()) - set(deletions.tolist()) | set(additions.tolist()))
    assert content.numbers.tolist() == expected
    changes = materialization(result, "dncr_registry_changes")
    assert (changes["added"], changes["removed"]) == (25, 10)
    with resources["warehouse"].connect() as connection:
        change_row = (
            connection.execute(
                sa.select(tables.registry_changes).where(
                    tables.registry_changes.c.version_id == active["version_id"]
                )
            )
            .mappings()
            .one()
        )
    diff = parquet_to_numbers(resources["object_store"].read_bytes(change_row["changes_path"]))
    assert sorted(diff.numbers.tolist()) == sorted(additions.tolist() + deletions.tolist())
    again = refresh(resources, ["us_ftc"], as_of="2026-11-06T12:00:00+00:00")
    assert again.success
    assert materialization(again, "dncr_registry_snapshot")["candidates"] == 0


def test_a_folder_dated_after_today_waits_for_its_day(resources) -> None:
    first_version(resources)
    write_changes(resources["object_store"], "us_ftc", "2026-11-20", us_numbers(5, start=9000), [])
    early = refresh(resources, ["us_ftc"], as_of="2026-11-10T12:00:00+00:00")
    assert early.success
    assert (
        "up to date"
        in materialization(early, "dncr_registry_snapshot")["registries"]["us_ftc"]["status"]
    )
    on_the_day = refresh(resources, ["us_ftc"], as_of="2026-11-20T18:00:00+00:00")
    assert on_the_day.success
    assert active_rows(resources["warehouse"], "us_ftc")[0]["number_count"] == 3005


def _lines(numbers: np.ndarray) -> bytes:
    return format_ftc_lines(numbers)


def _write_area_files(store: ObjectStoreResource, day: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        store.write_bytes(f"{landing.registry_full_dir('us_ftc', day)}/{name}", data)


def bad_lines_file(store: ObjectStoreResource) -> None:
    body = _lines(BASE).split(b"\n")
    for index in range(0, 3000, 20):  # 5% unreadable
        body[index] = b"212,55#" + body[index][7:]
    _write_area_files(store, DAY2, {"212.zip": zip_member("212.txt", b"\n".join(body))})


def truncated_zip(store: ObjectStoreResource) -> None:
    write_full(store, "us_ftc", DAY2, BASE)
    path = f"{landing.registry_full_dir('us_ftc', DAY2)}/415.zip"
    data = store.read_bytes(path)
    store.write_bytes(path, data[: len(data) // 2])


def truncated_text(store: ObjectStoreResource) -> None:
    body = _lines(BASE)
    _write_area_files(store, DAY2, {"212.zip": zip_member("212.txt", body[: len(body) // 2 + 5])})


def invalid_numbers(store: ObjectStoreResource) -> None:
    unassigned_area = 10_000_000_000 + 200 * 10_000_000 + 5550100 + np.arange(10)
    write_full(store, "us_ftc", DAY2, np.concatenate([BASE, unassigned_area]))


def empty_download(store: ObjectStoreResource) -> None:
    _write_area_files(
        store, DAY2, {"212.zip": zip_member("212.txt", b""), "415.zip": zip_member("415.txt", b"")}
    )


def older_replay(store: ObjectStoreResource) -> None:
    write_full(store, "us_ftc", "2026-10-25", BASE[:-5])


@pytest.mark.parametrize(
    ("make_bad_file", "check", "why", "source_day"),
    [
        (bad_lines_file, "parses_completely", "lines unreadable", ""),
        (truncated_zip, "parses_completely", "could not be read", ""),
        (truncated_text, "size_change_within_bound", "over the 2% bound", ""),
        (invalid_numbers, "numbers_valid_for_country", "not valid US numbers", ""),
        (empty_download, "not_empty", "holds no numbers", ""),
        (older_replay, "newer_than_active", "not newer than", "2026-10-25"),
    ],
)
def test_each_blocking_check_rejects_a_bad_file_and_the_previous_version_stays_active(
    resources, make_bad_file, check: str, why: str, source_day: str
) -> None:
    first = first_version(resources)
    make_bad_file(resources["object_store"])
    result = refresh(resources, ["us_ftc"], as_of=DAY2_AS_OF, source_day=source_day)
    assert not result.success
    message = failure_message(result)
    assert check in message and why in message and "the active version stays" in message
    assert_one_line_reason(result, "blocking registry check failed", check, why)
    [active] = active_rows(resources["warehouse"], "us_ftc")
    assert active["version_id"] == first["version_id"]
    rejected = [
        row for row in version_rows(resources["warehouse"], "us_ftc") if row["status"] == "rejected"
    ]
    assert len(rejected) == 1
    assert check in rejected[0]["rejection_reason"]
    assert rejected[0]["check_results"][check]["passed"] is False
    [entry] = audit_entries(resources["warehouse"], "dncr.registry_version_rejected")
    assert check in entry["details"]["failed_checks"]
    assert entry["object_refs"]["active_version_id"] == first["version_id"]
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations[check] is False
    assert not [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["dncr_registry_promotion"]
    ]
    assert len(audit_entries(resources["warehouse"], "dncr.registry_version_promoted")) == 1


def test_bad_lines_under_the_threshold_are_quarantined_and_the_version_promoted(resources) -> None:
    first_version(resources)
    body = _lines(BASE).split(b"\n")
    body[7] = b"212,55?0000"
    body[8] = b"212,55501"
    _write_area_files(
        resources["object_store"], DAY2, {"212.zip": zip_member("212.txt", b"\n".join(body))}
    )
    result = refresh(resources, ["us_ftc"], as_of=DAY2_AS_OF)
    assert result.success, failure_message(result)
    [active] = active_rows(resources["warehouse"], "us_ftc")
    assert (active["bad_lines"], active["number_count"]) == (2, 2998)
    with resources["warehouse"].connect() as connection:
        rows = (
            connection.execute(
                sa.select(quarantine).where(
                    quarantine.c.asset == "dncr_registry_snapshot",
                    quarantine.c.partition_key == f"us_ftc:{DAY2}",
                )
            )
            .mappings()
            .all()
        )
    assert sorted((row["source_line"], row["reason_code"]) for row in rows) == [
        (8, "non_digit"),
        (9, "wrong_length"),
    ]
    assert all("555" not in row["detail"] for row in rows)  # the number stays in raw_record only


def test_wash_results_build_versions_of_a_wash_only_registry(resources) -> None:
    store = resources["object_store"]
    write_wash_results(
        store,
        "au_acma",
        "wash_2026-11-10.csv",
        [("61491570156", "Y", "2026-11-10"), ("61491570157", "N", "2026-11-10")],
    )
    first = refresh(resources, ["au_acma"], as_of="2026-11-11T00:00:00+00:00")
    assert first.success, failure_message(first)
    [v1] = active_rows(resources["warehouse"], "au_acma")
    assert (v1["number_count"], v1["registered_count"], v1["source_kind"]) == (2, 1, "wash_results")
    write_wash_results(
        store,
        "au_acma",
        "wash_2026-11-20.csv",
        [("61491570156", "N", "2026-11-20"), ("+61491570158", "Y", "2026-11-20")],
    )
    write_wash_results(
        store, "au_acma", "wash_2026-11-01_late.csv", [("61491570156", "Y", "2026-11-01")]
    )
    second = refresh(resources, ["au_acma"], as_of="2026-11-21T00:00:00+00:00")
    assert second.success, failure_message(second)
    [v2] = active_rows(resources["warehouse"], "au_acma")
    content = parquet_to_numbers(store.read_bytes(v2["parquet_path"]))
    assert content.numbers.tolist() == [61491570156, 61491570157, 61491570158]
    assert content.registered.tolist() == [
        False,
        False,
        True,
    ]  # the late older file cannot roll back
    assert [str(d) for d in content.wash_days] == ["2026-11-20", "2026-11-10", "2026-11-20"]
    assert v2["data_as_of"].date().isoformat() == "2026-11-19"  # 2026-11-20 00:00 Sydney, in UTC
    changes = materialization(second, "dncr_registry_changes")["registries"]["au_acma"]
    assert (changes["added"], changes["removed"]) == (1, 1)  # ...158 registered, ...156 no longer
    nothing_new = refresh(resources, ["au_acma"], as_of="2026-11-22T00:00:00+00:00")
    assert materialization(nothing_new, "dncr_registry_snapshot")["candidates"] == 0


def test_a_bad_wash_result_file_is_rejected(resources) -> None:
    store = resources["object_store"]
    write_wash_results(store, "au_acma", "good.csv", [("61491570156", "Y", "2026-11-10")])
    assert refresh(resources, ["au_acma"], as_of="2026-11-11T00:00:00+00:00").success
    write_wash_results(
        store,
        "au_acma",
        "bad.csv",
        [("61491570157", "perhaps", "2026-11-12"), ("6591234567", "N", "2026-11-12")],
    )
    result = refresh(resources, ["au_acma"], as_of="2026-11-13T00:00:00+00:00")
    assert not result.success
    assert "parses_completely" in failure_message(result)
    assert active_rows(resources["warehouse"], "au_acma")[0]["number_count"] == 1


# --------------------------------------------------------------------------- washing

LISTED, CLEAR, CONSENTED, RELATIONSHIP, SUPPRESSED, RESTRICTED = (
    "+12125550000",
    "+12125559001",
    "+12125559002",
    "+12125559003",
    "+12125559004",
    "+12125559005",
)


def prepare_wash_world(resources: dict[str, Any]) -> None:
    store = resources["object_store"]
    warehouse: WarehouseResource = resources["warehouse"]
    first_version(resources)
    write_wash_results(
        store,
        "au_acma",
        "w.csv",
        [("61491570156", "Y", "2026-11-01"), ("61491570157", "N", "2026-11-01")],
    )
    assert refresh(resources, ["au_acma"], as_of=DAY1_AS_OF).success
    write_campaign(
        store,
        "beta-us",
        "spring",
        [
            "(212) 555-0000",
            "212 555 9001",
            "+1 212 555 9001",
            CONSENTED,
            RELATIONSHIP,
            SUPPRESSED,
            RESTRICTED,
            "CALL-ME",
        ],
    )
    write_campaign(store, "acme-au", "recall", ["0491 570 156", "0491570157", "+61 491 570 158"])
    write_consents(
        store,
        "beta-us",
        [
            ("212-555-9002", "express_consent", "2026-10-01T10:00:00Z", "web_form"),
            ("+12125559003", "transaction", "2026-01-15T10:00:00Z", "crm_import"),
            ("+12125559001", "inquiry", "2025-01-01T10:00:00Z", "inbound_call"),  # long expired
            ("+12125559004", "sometimes", "2026-10-01T10:00:00Z", "paper_form"),  # refused
        ],
    )
    key = identifier_hash_key()
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with warehouse.begin() as connection:
        connection.execute(  # an erased subject's objection: only the hash is left
            sa.insert(tables.suppression_entries).values(
                tenant_id="beta-us",
                e164=None,
                e164_hash=keyed_hash(SUPPRESSED, key),
                source="dsar_objection",
                created_at=now,
            )
        )
        connection.execute(
            sa.insert(restrictions).values(
                tenant_id="beta-us",
                identifier_hash=keyed_hash(RESTRICTED, key),
                identifier_kind="phone",
                dsar_request_id="dsar-1",
                created_at=now,
            )
        )


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_washing_gives_every_number_a_reason_and_records_the_evidence(resources) -> None:
    prepare_wash_world(resources)
    warehouse: WarehouseResource = resources["warehouse"]
    store: ObjectStoreResource = resources["object_store"]
    result = wash_tenants(resources, ["beta-us", "acme-au"], washed_at="2026-11-10T00:00:00+00:00")
    assert result.success, failure_message(result)
    with warehouse.connect() as connection:
        washed = (
            connection.execute(sa.select(tables.wash_results).order_by(tables.wash_results.c.id))
            .mappings()
            .all()
        )
        blocked = connection.execute(sa.select(tables.blocked_calls)).mappings().all()
        washes = connection.execute(sa.select(tables.campaign_washes)).mappings().all()
        quarantined = (
            connection.execute(sa.select(quarantine).where(quarantine.c.asset == "dncr_consents"))
            .mappings()
            .all()
        )
    by_campaign = {
        c: [row["reason"] for row in washed if row["campaign_id"] == c]
        for c in ("spring", "recall")
    }
    assert by_campaign["spring"] == [
        "registry_listed",
        "allowed",
        "allowed",
        "consent",
        "existing_relationship",
        "internal_suppression",
        "allowed",
        "invalid_number",
    ]
    assert by_campaign["recall"] == ["registry_listed", "allowed", "needs_wash"]
    restricted_row = [row for row in washed if row["e164"] == RESTRICTED][0]
    assert restricted_row["restricted_at"] is not None
    listed = [
        row
        for row in washed
        if row["reason"] == "registry_listed" and row["campaign_id"] == "spring"
    ][0]
    active = active_rows(warehouse, "us_ftc")[0]
    assert (listed["registry_id"], listed["registry_version"]) == ("us_ftc", active["version_id"])
    assert listed["evidence_date"].isoformat() == DAY1
    assert listed["valid_until"] is not None and listed["calling_window"] is None
    allowed = [row for row in washed if row["decision"] == "allowed"]
    assert all(row["calling_window"]["windows"] for row in allowed)
    # blocked-call evidence: hashed number, registry, version, date and rule
    assert len(blocked) == 5
    assert "e164" not in tables.blocked_calls.c
    assert all(row["e164_hash"].startswith("hk1:") for row in blocked)
    listed_block = [
        row
        for row in blocked
        if row["reason"] == "registry_listed" and row["registry_id"] == "us_ftc"
    ][0]
    assert listed_block["registry_version"] == active["version_id"]
    assert active["version_id"][:12] in listed_block["rule"]
    assert all("555" not in row["rule"] for row in blocked)
    # allowed export: allowed numbers once each, never the restricted one or a blocked one
    spring = [row for row in washes if row["campaign_id"] == "spring"][0]
    exported = _csv_rows(store.read_bytes(spring["allowed_export_path"]))
    assert sorted(row["e164"] for row in exported) == sorted([CLEAR, CONSENTED, RELATIONSHIP])
    assert spring["restricted_skipped"] == 1
    assert (
        sha256_hex(store.read_bytes(spring["allowed_export_path"]))
        == spring["allowed_export_sha256"]
    )
    assert spring["registry_versions"] == {"us_ftc": active["version_id"]}
    # wash request for the AU number without a result
    requests = materialization(result, "dncr_wash_requests")["requests"]
    assert [(r["registry_id"], r["tenant_id"], r["numbers"]) for r in requests] == [
        ("au_acma", "acme-au", 1)
    ]
    assert store.read_bytes(requests[0]["path"]).decode().splitlines() == [
        "phone_number",
        "61491570158",
    ]
    assert len(audit_entries(warehouse, "dncr.allowed_list_exported")) == 2
    [request_audit] = audit_entries(warehouse, "dncr.wash_request_exported")
    assert request_audit["details"] == {"numbers": 1}
    assert [(row["source_line"], row["reason_code"]) for row in quarantined] == [
        (5, "unknown_kind")
    ]
    again = wash_tenants(resources, ["beta-us"], washed_at="2026-11-10T00:00:00+00:00")
    assert (
        materialization(again, "dncr_consents")["inserted"] == 0
    )  # held records are kept as they are


def test_a_stale_registry_blocks_every_number_it_covers(resources) -> None:
    prepare_wash_world(resources)
    result = wash_tenants(resources, ["beta-us"], washed_at="2026-12-20T00:00:00+00:00")
    assert result.success, failure_message(result)
    reasons = materialization(result, "dncr_wash_results")["reasons"]
    assert reasons == {
        "registry_stale": 5,
        "internal_suppression": 1,
        "registry_listed": 1,
        "invalid_number": 1,
    }


def test_the_cli_checks_and_washes_with_the_same_evidence(
    resources, monkeypatch, tmp_path: Path
) -> None:
    from cm_pipelines.cli.main import cm

    prepare_wash_world(resources)
    monkeypatch.setenv("CM_WAREHOUSE_URL", resources["warehouse"].url)
    monkeypatch.setenv("CM_STORAGE_URL", resources["object_store"].url)
    monkeypatch.setenv("CM_REGISTRIES_FILE", resources["platform_config"].registries_file)
    runner = CliRunner()
    checked = runner.invoke(
        cm,
        [
            "dncr",
            "check",
            "--tenant",
            "beta-us",
            "--at",
            "2026-11-10T00:00:00+00:00",
            "2125550000",
            CLEAR,
            "nonsense",
        ],
    )
    assert checked.exit_code == 0, checked.output
    lines = [json.loads(line) for line in checked.output.splitlines()]
    assert [line["reason"] for line in lines] == ["registry_listed", "allowed", "invalid_number"]
    assert lines[0]["number"] == "+1*******000"
    assert lines[0]["evidence"]["registry_id"] == "us_ftc"
    assert lines[1]["valid_until"].startswith("2026-12-02")
    assert "2125550000" not in checked.output and "5559001" not in checked.output
    listing = tmp_path / "list.csv"
    listing.write_text("phone,contact_ref\n2125550000,A\n2125559001,B\n2125559005,C\n")
    out = tmp_path / "out.csv"
    washed = runner.invoke(
        cm,
        [
            "dncr",
            "wash",
            "--tenant",
            "beta-us",
            "--list",
            str(listing),
            "--out",
            str(out),
            "--at",
            "2026-11-10T00:00:00+00:00",
        ],
    )
    assert washed.exit_code == 0, washed.output
    rows = _csv_rows(out.read_bytes())
    assert [(row["contact_ref"], row["reason"]) for row in rows] == [
        ("A", "registry_listed"),
        ("B", "allowed"),
    ]
    assert len(audit_entries(resources["warehouse"], "dncr.list_washed")) == 1
    unknown = runner.invoke(cm, ["dncr", "check", "--tenant", "nobody", CLEAR])
    assert unknown.exit_code != 0 and "unknown tenant" in unknown.output


def test_the_sensor_launches_a_refresh_when_registry_files_land(resources) -> None:
    from cm_pipelines.dncr.schedules import dncr_registry_refresh_schedule
    from cm_pipelines.dncr.sensors import dncr_registry_source_sensor

    sensor_resources = {
        "platform_config": resources["platform_config"],
        "object_store": resources["object_store"],
    }
    context = dg.build_sensor_context(resources=sensor_resources)
    first = dncr_registry_source_sensor(context)
    assert {request.tags["cm/registry"] for request in first} == {
        "us_ftc",
        "ca_dncl",
        "au_acma",
        "sg_dnc",
    }
    cursor = context.cursor
    quiet = dncr_registry_source_sensor(
        dg.build_sensor_context(cursor=cursor, resources=sensor_resources)
    )
    assert isinstance(quiet, dg.SkipReason)
    write_full(resources["object_store"], "us_ftc", DAY1, BASE[:10])
    landed = dncr_registry_source_sensor(
        dg.build_sensor_context(cursor=cursor, resources=sensor_resources)
    )
    assert [
        request.run_config["ops"]["dncr_registry_snapshot"]["config"]["registry_ids"]
        for request in landed
    ] == [["us_ftc"]]
    schedule_context = dg.build_schedule_context(
        resources={"platform_config": resources["platform_config"]},
        scheduled_execution_time=datetime(2026, 11, 2, 7, 15, tzinfo=UTC),
    )
    requests = dncr_registry_refresh_schedule(schedule_context)
    assert sorted(request.run_key for request in requests) == [
        "au_acma:2026-11-02",
        "ca_dncl:2026-11-02",
        "sg_dnc:2026-11-02",
        "us_ftc:2026-11-02",
    ]
    assert dncr_registry_refresh_schedule.execution_timezone == "UTC"


def test_a_registry_can_be_read_from_its_own_source_url(resources, tmp_path: Path) -> None:
    source = tmp_path / "ftc_mirror"
    for name, data in ftc_full_files(BASE[:500]).items():
        target = source / "full" / DAY1 / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    config = registries_config(tmp_path, us_ftc={"source_url": f"file://{source}"})
    mirrored = {**resources, "platform_config": config}
    result = refresh(mirrored, ["us_ftc"], as_of=DAY1_AS_OF)
    assert result.success, failure_message(result)
    [active] = active_rows(resources["warehouse"], "us_ftc")
    assert active["number_count"] == 500
    assert all(item["path"].startswith("file://") for item in active["source_files"])
