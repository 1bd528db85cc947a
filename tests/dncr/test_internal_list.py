"""The internal do-not-call list: deadlines in the tenant's calendar, five-year expiry, intake
from opt-out files and the command line, applied by the next check, and the late-entry check;
every pre-call check recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.dncr.check_records import check_records
from cm_pipelines.dncr.internal_list import (
    ingest_opt_out_files,
    late_entries,
)
from cm_pipelines.domain.dncr.internal_list import (
    OptOutFileError,
    business_day_deadline,
    entry_expiry,
    parse_opt_out_file,
)
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform.settings import identifier_hash_key
from cm_pipelines.tables import dncr as tables
from tests.dncr.dncr_helpers import registries_config
from tests.dncr.test_dncr_assets import prepare_wash_world

CLEAR = "+12125559005"


@pytest.fixture
def resources(sqlite_warehouse, local_store, tmp_path: Path) -> dict[str, Any]:
    return {
        "warehouse": sqlite_warehouse,
        "object_store": local_store,
        "platform_config": registries_config(tmp_path, us_ftc={"max_bad_line_ratio": 0.01}),
    }


def test_the_honour_by_deadline_counts_ten_business_days_in_the_tenant_calendar() -> None:
    # Friday 2026-11-20, 22:00 in New York (Saturday in UTC): the day of receipt is the Friday
    received = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    deadline = business_day_deadline(received, "America/New_York", "US")
    # Mon 23, Tue 24, Wed 25, (Thanksgiving 26), Fri 27, Mon 30, Tue 1, Wed 2, Thu 3, Fri 4, Mon 7
    assert deadline == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)  # midnight ending Dec 7, EST
    without_holidays = business_day_deadline(received, "America/New_York", "ZZ")
    assert without_holidays == datetime(2026, 12, 5, 5, 0, tzinfo=UTC)  # end of Fri Dec 4
    with pytest.raises(ValueError, match="aware"):
        business_day_deadline(datetime(2026, 11, 21), "America/New_York", "US")


def test_an_entry_lasts_at_least_five_years() -> None:
    received = datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    assert entry_expiry(received) == datetime(2029, 2, 28, 12, 0, tzinfo=UTC)
    later = datetime(2031, 1, 1, tzinfo=UTC)
    assert entry_expiry(received, later) == later
    with pytest.raises(ValueError, match=r"at least 5 years .*64\.1200"):
        entry_expiry(received, datetime(2028, 1, 1, tzinfo=UTC))


def test_an_opt_out_file_keeps_good_lines_and_names_each_bad_one() -> None:
    data = (
        b"phone,received_at,source\n"
        b"(212) 555-9005,2026-11-20T10:00:00-05:00,\n"
        b",2026-11-20T10:00:00Z,\n"
        b"2125559006,yesterday,\n"
        b"2125559007,2026-11-20T10:00:00,\n"
        b"2125559008,2026-11-20T10:00:00Z,fax_reply\n"
        b"2125559009,2026-11-20T11:00:00Z,ivr_opt_out\n"
        b"\n"
    )
    good, bad = parse_opt_out_file(data, "sms_stop")
    assert [(line.line, line.source) for line in good] == [(2, "sms_stop"), (7, "ivr_opt_out")]
    assert good[0].received_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert [(line.line, line.reason) for line in bad] == [
        (3, "missing_phone"),
        (4, "bad_received_at"),
        (5, "received_at_without_zone"),
        (6, "unknown_source"),
    ]
    with pytest.raises(OptOutFileError, match="header"):
        parse_opt_out_file(b"number,when\n1,2\n", "sms_stop")
    with pytest.raises(OptOutFileError, match="unknown opt-out source"):
        parse_opt_out_file(data, "carrier_pigeon")


def _tenant() -> Tenant:
    from cm_pipelines.resources import PlatformConfigResource

    return next(t for t in PlatformConfigResource().tenants() if t.id == "beta-us")


def test_opt_out_files_land_in_the_list_once_and_late_entries_are_found(resources) -> None:
    store, warehouse = resources["object_store"], resources["warehouse"]
    store.write_bytes(
        "landing/optouts/beta-us/sms_stop/2026-11-20.csv",
        b"phone,received_at\n+1 212 555 9005,2026-11-20T10:00:00Z\nnot-a-number,2026-11-20T10:00:00Z\n",
    )
    store.write_bytes(
        "landing/optouts/beta-us/client_list/dnc.csv",
        b"phone,received_at\n2125559006,2026-10-01T10:00:00Z\n",
    )
    store.write_bytes("landing/optouts/beta-us/telegram/x.csv", b"phone,received_at\n")
    tenant, key = _tenant(), identifier_hash_key()
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    for attempt in range(2):  # a re-run changes nothing
        with warehouse.begin() as connection:
            counts = ingest_opt_out_files(connection, store, tenant, key, now, f"run-{attempt}")
        assert (counts.added, counts.kept, counts.quarantined) == (
            (2, 0, 2) if attempt == 0 else (0, 2, 2)
        )
    with warehouse.connect() as connection:
        rows = (
            connection.execute(
                sa.select(tables.suppression_entries).order_by(tables.suppression_entries.c.id)
            )
            .mappings()
            .all()
        )
        late = late_entries(connection, "beta-us")
    assert {row["e164_hash"] for row in rows} == {
        keyed_hash("+12125559005", key),
        keyed_hash("+12125559006", key),
    }
    assert all(row["e164"] is None for row in rows)
    # the client list's request of 1 October landed on 20 November: past its deadline
    client = next(row for row in rows if row["source"] == "client_list")
    assert [(row["source"], row["id"]) for row in late] == [("client_list", client["id"])]
    assert late[0]["honour_by"] < late[0]["created_at"]


def test_suppress_applies_at_the_next_check_and_every_check_is_recorded(
    resources,
    monkeypatch,
) -> None:
    from cm_pipelines.cli.main import cm

    prepare_wash_world(resources)
    monkeypatch.setenv("CM_WAREHOUSE_URL", resources["warehouse"].url)
    monkeypatch.setenv("CM_STORAGE_URL", resources["object_store"].url)
    monkeypatch.setenv("CM_REGISTRIES_FILE", resources["platform_config"].registries_file)
    runner = CliRunner()
    check = ["dncr", "check", "--tenant", "beta-us", "--at", "2026-11-10T00:00:00+00:00"]
    before = runner.invoke(cm, [*check, "--actor", "sam", CLEAR])
    assert before.exit_code == 0, before.output
    assert json.loads(before.output)["reason"] == "allowed"
    refused = runner.invoke(cm, ["dncr", "suppress", "--tenant", "beta-us", "--by", "avery", CLEAR])
    assert refused.exit_code != 0 and "refused" in refused.output
    invalid = runner.invoke(
        cm, ["dncr", "suppress", "--tenant", "beta-us", "--by", "sam", CLEAR, "12"]
    )
    assert (
        invalid.exit_code != 0 and "positions [2]" in invalid.output and "nothing" in invalid.output
    )
    added = runner.invoke(
        cm,
        [
            "dncr",
            "suppress",
            "--tenant",
            "beta-us",
            "--by",
            "sam",
            "--source",
            "ivr_opt_out",
            CLEAR,
        ],
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["added"] == 1 and "5559005" not in added.output
    after = runner.invoke(cm, [*check, CLEAR])
    assert json.loads(after.output)["reason"] == "internal_suppression"
    with resources["warehouse"].connect() as connection:
        records = check_records(connection, "beta-us")
        entry = (
            connection.execute(
                sa.select(tables.suppression_entries).where(
                    tables.suppression_entries.c.source == "ivr_opt_out"
                )
            )
            .mappings()
            .one()
        )
    assert [(r["reason"], r["channel"], r["checked_by"]) for r in records] == [
        ("allowed", "cli", "cli:sam"),
        ("internal_suppression", "cli", records[1]["checked_by"]),
    ]
    assert records[0]["registry_id"] == "us_ftc" and records[0]["registry_version"]
    assert records[0]["evidence_date"] is not None and records[0]["rule"].startswith("allowed")
    assert all(r["e164_hash"] == keyed_hash(CLEAR, identifier_hash_key()) for r in records)
    assert entry["requested_by"] == "cli:sam" and entry["honour_by"] > entry["received_at"]
    assert entry["expires_at"] >= entry["received_at"] + timedelta(days=5 * 365)


def test_the_wash_job_applies_opt_outs_landed_before_it_and_the_check_flags_late_entries(
    resources,
) -> None:
    from tests.dncr.dncr_helpers import wash_tenants

    prepare_wash_world(resources)
    store, warehouse = resources["object_store"], resources["warehouse"]
    received = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    store.write_bytes(
        "landing/optouts/beta-us/sms_stop/replies.csv",
        f"phone,received_at\n212 555 9001,{received}\n".encode(),
    )
    result = wash_tenants(resources, ["beta-us"], washed_at="2026-11-10T00:00:00+00:00")
    assert result.success
    key = identifier_hash_key()
    with warehouse.connect() as connection:
        reasons = {
            row.reason
            for row in connection.execute(
                sa.select(tables.wash_results.c.reason).where(
                    tables.wash_results.c.e164_hash == keyed_hash("+12125559001", key)
                )
            )
        }
    assert reasons == {"internal_suppression"}
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["dncr_internal_list_honoured_in_time"] is True
    with warehouse.begin() as connection:  # an entry that took effect after its deadline
        connection.execute(
            sa.insert(tables.suppression_entries).values(
                tenant_id="beta-us",
                e164_hash=keyed_hash("+12125559010", key),
                source="client_list",
                received_at=datetime(2026, 9, 1, tzinfo=UTC),
                honour_by=datetime(2026, 9, 16, tzinfo=UTC),
                created_at=datetime(2026, 11, 9, tzinfo=UTC),
            )
        )
    again = wash_tenants(resources, ["beta-us"], washed_at="2026-11-10T00:00:00+00:00")
    late = next(
        e
        for e in again.get_asset_check_evaluations()
        if e.check_name == "dncr_internal_list_honoured_in_time"
    )
    assert late.passed is False and late.metadata["late"].value == 1
    assert "+1212" not in str(late.metadata) and "hk1:" not in str(late.metadata)
    from cm_pipelines.operations.sensors import WATCHED_CHECKS

    # the operations check sensor alerts on it like the other watched checks
    assert late.asset_check_key in WATCHED_CHECKS


def test_check_records_are_do_not_call_evidence_for_retention(resources) -> None:
    import pandas as pd

    from cm_pipelines.dncr.check_records import store_check_records
    from cm_pipelines.domain.retention.artefact_types import POLICY_TYPE
    from cm_pipelines.retention.inventory.number_records import read_number_records

    results = pd.DataFrame(
        {
            "e164_hash": ["hk1:ab"],
            "decision": ["blocked"],
            "reason": ["registry_listed"],
            "registry_id": ["us_ftc"],
            "registry_version": ["v1"],
            "evidence_date": [datetime(2026, 11, 2).date()],
            "evidence_age_days": [8.0],
            "rule": ["registry_listed: us_ftc"],
            "valid_until": [datetime(2026, 12, 3, tzinfo=UTC)],
        }
    )
    with resources["warehouse"].begin() as connection:
        stored = store_check_records(
            connection,
            "beta-us",
            results,
            checked_at=datetime(2026, 11, 10, tzinfo=UTC),
            channel="job",
            checked_by="dagster:run-1",
        )
        with pytest.raises(ValueError, match="channel"):
            store_check_records(
                connection, "beta-us", results, checked_at=datetime.now(UTC), channel="fax",
                checked_by="x",
            )  # fmt: skip
    assert stored == 1
    with resources["warehouse"].connect() as connection:
        parts, numbers = read_number_records(connection, ["beta-us"])
    checks = numbers.loc[numbers["record_type"] == "dncr_check_records"]
    assert checks["e164_hash"].tolist() == ["hk1:ab"]
    assert any((part["record_type"] == "dncr_check_records").any() for part in parts)
    assert POLICY_TYPE["dncr_check_records"] == "wash_results"
