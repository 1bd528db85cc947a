"""The purge on the production stack: PostgreSQL and the S3 protocol (moto's server on loopback).

On a versioned bucket ``rm`` only adds a delete marker; the purge must leave no version and no
marker of a purged key. An object under an S3 Object Lock legal hold refuses deletion — s3fs
would skip it silently — and the purge must report it, keep its row live and fail the run.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pandas as pd
import pytest
import sqlalchemy as sa

from cm_pipelines.resources import ObjectStoreResource, WarehouseResource, object_purge
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables.retention import purge_plan_items, purge_plans, retention_tombstones
from tests.retention.retention_helpers import (
    World,
    materialization,
    purge_config,
    run_purge,
    write_tenants,
)

pytestmark = pytest.mark.integration
NO_BREAKER = {"max_tenant_share": 1.0}


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def bucket_and_key(store: ObjectStoreResource, path: str) -> tuple[str, str]:
    bucket, _, key = store.full_path(path).partition("/")
    return bucket, key


def versions_of(client, store: ObjectStoreResource, path: str) -> list[str]:
    bucket, key = bucket_and_key(store, path)
    page = client.list_object_versions(Bucket=bucket, Prefix=key)
    entries = (page.get("Versions") or []) + (page.get("DeleteMarkers") or [])
    return [entry["VersionId"] for entry in entries if entry["Key"] == key]


def table_rows(warehouse: WarehouseResource, table: sa.Table) -> pd.DataFrame:
    with warehouse.connect() as connection:
        return pd.DataFrame(connection.execute(sa.select(table)).mappings().all())


def seed(world: World, versions: int = 1) -> dict:
    return {
        "old": [
            world.add_call("acme-au", 45, crm_email=f"p{n}@example.com", versions=versions)
            for n in range(3)
        ],
        "fresh": [world.add_call("acme-au", 3, versions=versions) for _ in range(2)],
        "other": [world.add_call("beta-us", 40, versions=versions)],
    }


def test_fs_rm_on_a_versioned_bucket_only_hides_the_object(s3_versioned_store, s3_endpoint):
    """The trap the purge exists to avoid, shown on the same server the purge is tested on."""
    s3_versioned_store.write_bytes("scratch/a.bin", b"1")
    s3_versioned_store.delete(["scratch/a.bin"])
    assert not s3_versioned_store.exists("scratch/a.bin")
    assert len(versions_of(s3_client(s3_endpoint), s3_versioned_store, "scratch/a.bin")) == 2


def test_purge_on_postgresql_and_a_versioned_bucket_leaves_no_version(
    postgres_warehouse, s3_versioned_store, s3_endpoint, tmp_path
):
    client = s3_client(s3_endpoint)
    world = World(postgres_warehouse, s3_versioned_store)
    seeded = seed(world, versions=2)
    # One purged object also carries a delete marker over a re-written version.
    marked = seeded["old"][0].object_paths["recordings"]
    s3_versioned_store.delete([marked])
    s3_versioned_store.write_bytes(marked, b"rewritten")
    assert len(versions_of(client, s3_versioned_store, marked)) == 4
    resources = {
        "warehouse": postgres_warehouse,
        "object_store": s3_versioned_store,
        "platform_config": write_tenants(tmp_path / "tenants.yaml"),
    }
    result = run_purge(resources, purge_config(**NO_BREAKER))
    assert result.success

    for call in seeded["old"] + seeded["other"]:
        for path in call.object_paths.values():
            assert versions_of(client, s3_versioned_store, path) == [], path
    for call in seeded["fresh"]:
        for path in call.object_paths.values():
            assert len(versions_of(client, s3_versioned_store, path)) == 2
    recordings = table_rows(postgres_warehouse, call_tables.recordings).set_index("call_id")
    assert recordings.loc[[c.call_id for c in seeded["old"]], "deleted_at"].notna().all()
    assert recordings.loc[[c.call_id for c in seeded["fresh"]], "deleted_at"].isna().all()
    transcripts = table_rows(postgres_warehouse, call_tables.transcripts).set_index("call_id")
    assert transcripts.loc[seeded["old"][0].call_id, "text"] == ""

    proof_meta = materialization(result, "retention_proof_of_deletion")
    proof = json.loads(s3_versioned_store.read_bytes(proof_meta["proof_path"]))
    tombstones = table_rows(postgres_warehouse, retention_tombstones)
    # + the old day's CRM links file: every link in it was purged, so it went too, every version
    crm_file = seeded["old"][0].crm_file
    assert crm_file is not None and versions_of(client, s3_versioned_store, crm_file) == []
    assert proof["totals"]["purged"] == len(tombstones) == 3 * 5 + 1 * 4 + 1
    assert proof["totals"]["objects_verified_absent"] == 4 * 4 + 1
    assert proof["totals"]["objects_still_present"] == 0
    assert proof["by_tenant"]["acme-au"]["crm_link_files"] == {"purged": 1, "objects_deleted": 1}
    # the CDR day files stay: their calls are kept 730 days
    assert all(s3_versioned_store.exists(call.cdr_file) for call in seeded["old"])

    # Re-running finds nothing due and deletes nothing.
    again = run_purge(resources, purge_config(**NO_BREAKER))
    assert again.success
    assert materialization(again, "retention_purge_plan")["items"] == 0
    assert len(table_rows(postgres_warehouse, retention_tombstones)) == len(tombstones)


def test_a_killed_purge_resumes_on_postgresql_and_s3(
    postgres_warehouse, s3_versioned_store, s3_endpoint, tmp_path, monkeypatch
):
    client = s3_client(s3_endpoint)
    world = World(postgres_warehouse, s3_versioned_store)
    seeded = seed(world, versions=2)
    resources = {
        "warehouse": postgres_warehouse,
        "object_store": s3_versioned_store,
        "platform_config": write_tenants(tmp_path / "tenants.yaml"),
    }
    real = object_purge.purge_objects
    calls = {"count": 0}

    def dying(store, paths, **kwargs):
        calls["count"] += 1
        if calls["count"] == 2:
            real(store, paths, **kwargs)  # objects gone, rows not yet marked
            raise RuntimeError("process killed")
        return real(store, paths, **kwargs)

    monkeypatch.setattr(object_purge, "purge_objects", dying)
    config = purge_config(**NO_BREAKER, object_batch_size=4, row_batch_size=3)
    first = run_purge(resources, config)
    assert not first.success
    monkeypatch.setattr(object_purge, "purge_objects", real)
    second = run_purge(resources, config)
    assert second.success
    assert (
        materialization(second, "retention_purge_plan")["plan_id"]
        == materialization(first, "retention_purge_plan")["plan_id"]
    )
    items = table_rows(postgres_warehouse, purge_plan_items)
    assert set(items["status"]) == {"purged"}
    tombstones = table_rows(postgres_warehouse, retention_tombstones)
    assert len(tombstones) == len(items)
    for call in seeded["old"] + seeded["other"]:
        for path in call.object_paths.values():
            assert versions_of(client, s3_versioned_store, path) == []
    for call in seeded["fresh"]:
        assert all(s3_versioned_store.exists(p) for p in call.object_paths.values())


def test_an_object_under_s3_object_lock_is_reported_and_its_row_kept(
    postgres_warehouse, s3_endpoint, tmp_path
):
    client = s3_client(s3_endpoint)
    bucket = f"cm-lock-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    store = ObjectStoreResource(url=f"s3://{bucket}/cm", s3_endpoint_url=s3_endpoint)
    world = World(postgres_warehouse, store)
    seeded = seed(world)
    locked_call = seeded["old"][1]
    locked_path = locked_call.object_paths["recordings"]
    _, key = bucket_and_key(store, locked_path)
    client.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold={"Status": "ON"})
    resources = {
        "warehouse": postgres_warehouse,
        "object_store": store,
        "platform_config": write_tenants(tmp_path / "tenants.yaml"),
    }
    try:
        result = run_purge(resources, purge_config(**NO_BREAKER))
        assert not result.success
        assert store.exists(locked_path)
        recordings = table_rows(postgres_warehouse, call_tables.recordings).set_index("call_id")
        assert pd.isna(recordings.loc[locked_call.call_id, "deleted_at"])
        items = table_rows(postgres_warehouse, purge_plan_items)
        failed = items.loc[items["status"] == "failed"]
        assert failed["artefact_id"].tolist() == [locked_call.call_id]
        assert failed["detail"].tolist() == ["s3_accessdenied"]
        # Its derived artefacts went (children first), everything else due is gone.
        for record_type, path in locked_call.object_paths.items():
            if record_type != "recordings":
                assert not store.exists(path)
        plan = table_rows(postgres_warehouse, purge_plans).iloc[0]
        assert plan["status"] == "completed_with_failures"
        proof = json.loads(store.read_bytes(plan["proof_path"]))
        assert proof["totals"]["failed"] == 1
    finally:
        client.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold={"Status": "OFF"})
    again = run_purge(resources, purge_config(**NO_BREAKER))
    assert again.success
    assert versions_of(client, store, locked_path) == []
