"""A registry refresh (full download, change list, wash results, a rejected file) and a wash of
campaign lists on the real PostgreSQL warehouse and an S3-protocol object store."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import fsspec
import pytest
import sqlalchemy as sa

from cm_pipelines.dncr.refresh.version_parquet import parquet_to_numbers
from cm_pipelines.domain.dncr.content_hashing import sha256_hex
from cm_pipelines.platform import landing
from cm_pipelines.tables import dncr as tables
from cm_pipelines.tables.audit import audit_log
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
)

pytestmark = pytest.mark.integration

BASE = us_numbers(4000)


def test_refresh_and_wash_on_postgresql_and_s3(
    postgres_warehouse, s3_store, tmp_path: Path
) -> None:
    resources = {
        "warehouse": postgres_warehouse,
        "object_store": s3_store,
        "platform_config": registries_config(tmp_path),
    }
    store = s3_store
    write_full(store, "us_ftc", "2026-11-01", BASE)
    write_wash_results(
        store,
        "au_acma",
        "wash_2026-11-01.csv",
        [("61491570156", "Y", "2026-11-01"), ("61491570157", "N", "2026-11-01")],
    )
    first = refresh(resources, ["us_ftc", "au_acma"], as_of="2026-11-02T12:00:00+00:00")
    assert first.success, failure_message(first)
    [ftc_v1] = active_rows(postgres_warehouse, "us_ftc")
    assert ftc_v1["number_count"] == 4000
    assert sha256_hex(store.read_bytes(ftc_v1["parquet_path"])) == ftc_v1["parquet_sha256"]
    assert store.protocol == "s3"

    write_changes(store, "us_ftc", "2026-11-05", us_numbers(30, start=9000), BASE[:20])
    second = refresh(resources, ["us_ftc"], as_of="2026-11-06T12:00:00+00:00")
    assert second.success, failure_message(second)
    [ftc_v2] = active_rows(postgres_warehouse, "us_ftc")
    assert ftc_v2["number_count"] == 4010
    assert parquet_to_numbers(store.read_bytes(ftc_v2["parquet_path"])).numbers.size == 4010

    truncated = dict(ftc_full_files(BASE))
    truncated["415.zip"] = truncated["415.zip"][:100]
    for name, data in truncated.items():
        store.write_bytes(f"{landing.registry_full_dir('us_ftc', '2026-11-07')}/{name}", data)
    rejected = refresh(resources, ["us_ftc"], as_of="2026-11-08T12:00:00+00:00")
    assert not rejected.success
    assert "parses_completely" in failure_message(rejected)
    assert active_rows(postgres_warehouse, "us_ftc")[0]["version_id"] == ftc_v2["version_id"]
    statuses = sorted(row["status"] for row in version_rows(postgres_warehouse, "us_ftc"))
    assert statuses == ["active", "rejected", "superseded"]

    write_campaign(
        store,
        "beta-us",
        "autumn",
        ["2125550000", "212-555-9001", "415 555 9101", "2125550100", "oops"],
    )
    write_campaign(store, "acme-au", "recall", ["0491 570 156", "0491570157", "0491570158"])
    write_consents(
        store, "beta-us", [("4155559101", "express_consent", "2026-10-01T00:00:00Z", "web")]
    )
    washed = wash_tenants(resources, ["beta-us", "acme-au"], washed_at="2026-11-09T00:00:00+00:00")
    assert washed.success, failure_message(washed)
    reasons = materialization(washed, "dncr_wash_results")["reasons"]
    assert reasons == {
        "registry_listed": 2,
        "allowed": 3,
        "consent": 1,
        "invalid_number": 1,
        "needs_wash": 1,
    }
    with postgres_warehouse.connect() as connection:
        blocked = connection.execute(sa.select(tables.blocked_calls)).mappings().all()
        washes = connection.execute(sa.select(tables.campaign_washes)).mappings().all()
        stored = connection.execute(sa.select(tables.wash_results)).mappings().all()
        actions = [
            row[0]
            for row in connection.execute(sa.select(audit_log.c.action).order_by(audit_log.c.seq))
        ]
    assert sorted(row["reason"] for row in blocked) == [
        "invalid_number",
        "needs_wash",
        "registry_listed",
        "registry_listed",
    ]
    assert {row["registry_version"] for row in blocked if row["registry_id"] == "us_ftc"} == {
        ftc_v2["version_id"]
    }
    assert all(row["calling_window"]["windows"] for row in stored if row["decision"] == "allowed")
    autumn = [row for row in washes if row["campaign_id"] == "autumn"][0]
    exported = list(
        csv.DictReader(io.StringIO(store.read_bytes(autumn["allowed_export_path"]).decode()))
    )
    assert sorted(row["e164"] for row in exported) == [
        "+12125550000",
        "+12125559001",
        "+14155559101",
    ]
    assert actions.count("dncr.registry_version_promoted") == 3
    assert actions.count("dncr.registry_version_rejected") == 1
    assert actions.count("dncr.allowed_list_exported") == 2
    assert actions.count("dncr.wash_request_exported") == 1


def test_a_registry_read_from_its_own_s3_source_url(
    postgres_warehouse, s3_store, s3_endpoint, tmp_path: Path
) -> None:
    bucket = s3_store.url.split("://", 1)[1].split("/", 1)[0]
    mirror = f"s3://{bucket}/mirror/us_ftc"
    fs = fsspec.filesystem("s3", client_kwargs={"endpoint_url": s3_endpoint})
    for name, data in ftc_full_files(BASE[:300]).items():
        fs.pipe_file(f"{mirror[len('s3://') :]}/full/2026-11-01/{name}", data)
    resources = {
        "warehouse": postgres_warehouse,
        "object_store": s3_store,
        "platform_config": registries_config(tmp_path, us_ftc={"source_url": mirror}),
    }
    result = refresh(resources, ["us_ftc"], as_of="2026-11-02T00:00:00+00:00")
    assert result.success, failure_message(result)
    [active] = active_rows(postgres_warehouse, "us_ftc")
    assert active["number_count"] == 300
    assert all(item["path"].startswith(mirror) for item in active["source_files"])
