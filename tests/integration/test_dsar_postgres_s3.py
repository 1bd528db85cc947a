"""DSAR fulfilment on the production stack: PostgreSQL warehouse and an S3-protocol store
(moto on loopback), every request type end to end, tenant isolation, a versioned bucket, and
an erasure killed midway and resumed."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from cm_pipelines.domain.dsar.export_package import decrypt_package, verify_package
from cm_pipelines.domain.identifiers import extract_identifiers
from cm_pipelines.dsar.fulfil import erase
from cm_pipelines.resources.object_purge import still_present
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr
from cm_pipelines.tables.dsar import (
    dsar_certificates,
    dsar_exports,
    dsar_requests,
    restrictions,
)
from tests.dsar.dsar_helpers import (
    add_call_hold,
    add_number_records,
    hash_of,
    ingest_world,
    package_members,
    readable_text,
    rows,
    run,
    subject,
    submit,
)
from tests.dsar.test_erasure_replay import erase_reland_and_scan

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_s3(postgres_warehouse, s3_store, platform_config):
    return {
        "warehouse": postgres_warehouse,
        "object_store": s3_store,
        "platform_config": platform_config,
    }


def _ids(person: dict) -> list[tuple[str, str]]:
    return [("phone", person["e164"]), ("email", person["email"])]


def _party_calls(resources, tenant_id: str, number: str) -> set[str]:
    calls = call_tables.calls
    with resources["warehouse"].connect() as connection:
        return {
            row[0]
            for row in connection.execute(
                sa.select(calls.c.call_id).where(
                    calls.c.tenant_id == tenant_id,
                    sa.or_(calls.c.src_e164 == number, calls.c.dst_e164 == number),
                )
            )
        }


def test_every_request_type_end_to_end(pg_s3) -> None:
    world = ingest_world(pg_s3)
    au = [s for s in world.subjects if s["tenant_id"] == "acme-au"]
    us = [s for s in world.subjects if s["tenant_id"] == "beta-us"]
    sg = [s for s in world.subjects if s["tenant_id"] == "gamma-sg"]
    gb = [s for s in world.subjects if s["tenant_id"] == "delta-gb"]

    # access: masked, sealed, manifest hashes match
    person = subject(world, "acme-au", mentioned=True)
    add_number_records(pg_s3, "acme-au", person["e164"])
    access_id = submit(pg_s3, "acme-au", "access", _ids(person))
    access = run(pg_s3, access_id)
    assert access.success, access.failure_messages()
    [export] = rows(pg_s3, dsar_exports, request_id=access_id)
    _, plain = decrypt_package(pg_s3["object_store"].read_bytes(export["object_path"]), access.key)
    manifest = verify_package(plain)
    assert manifest["categories"]["calls"]["count"] == len(person["call_ids"])
    for name, data in package_members(plain).items():
        if name.endswith((".json", ".csv", ".txt")):
            found = extract_identifiers(readable_text(data), "AU")
            assert found.phones <= {person["e164"]} and found.emails <= {person["email"]}

    # portability
    portability_id = submit(pg_s3, "beta-us", "portability", _ids(us[0]))
    portability = run(pg_s3, portability_id)
    assert portability.success, portability.failure_messages()

    # erasure of the number two tenants know, with a hold, in the first tenant only
    [(shared, (here, there))] = world.shared_number_tenants.items()
    shared_person = next(s for s in au if s["e164"] == shared)
    held_call = sorted(shared_person["call_ids"])[0]
    add_call_hold(pg_s3, here, held_call, "H-PG-1")
    add_number_records(pg_s3, here, shared)
    elsewhere = _party_calls(pg_s3, there, shared)
    recordings_before = {
        r["call_id"]: r["object_path"] for r in rows(pg_s3, call_tables.recordings, tenant_id=here)
    }
    erasure_id = submit(pg_s3, here, "erasure", [("phone", shared)])
    erasure = run(pg_s3, erasure_id)
    assert erasure.success, erasure.failure_messages()
    assert _party_calls(pg_s3, here, shared) == {held_call}
    assert _party_calls(pg_s3, there, shared) == elsewhere and elsewhere
    gone = [
        recordings_before[c]
        for c in shared_person["call_ids"]
        if c != held_call and c in recordings_before
    ]
    assert gone and not still_present(pg_s3["object_store"], gone)
    [certificate] = rows(pg_s3, dsar_certificates, request_id=erasure_id)
    body = certificate["body"]
    assert body["verification"]["passed"]
    bases = {(e["store"], e["basis"]) for e in body["exemptions"]}
    assert ("calls", "legal hold H-PG-1") in bases
    assert any(store == "blocked_calls" for store, _ in bases)
    assert shared not in json.dumps(body)
    assert pg_s3["object_store"].exists(certificate["object_path"])

    # restriction, rectification, objection, consent withdrawal
    restriction_id = submit(pg_s3, "gamma-sg", "restriction", _ids(sg[0]))
    assert run(pg_s3, restriction_id).success
    assert rows(pg_s3, restrictions, dsar_request_id=restriction_id)
    rectification_id = submit(
        pg_s3,
        "delta-gb",
        "rectification",
        [("email", gb[0]["email"])],
        new_email="fixed.address@example.org",
    )
    assert run(pg_s3, rectification_id).success
    assert rows(pg_s3, call_tables.crm_links, contact_email="fixed.address@example.org")
    objection_id = submit(pg_s3, "beta-us", "objection", [("phone", us[-1]["e164"])])
    assert run(pg_s3, objection_id).success
    [entry] = rows(pg_s3, dncr.suppression_entries, source="dsar_objection")
    assert entry["e164_hash"] == hash_of(us[-1]["e164"]) and entry["tenant_id"] == "beta-us"
    withdraw_number = gb[-1]["e164"]
    records = add_number_records(pg_s3, "delta-gb", withdraw_number)
    withdraw_id = submit(pg_s3, "delta-gb", "withdraw_consent", [("phone", withdraw_number)])
    assert run(pg_s3, withdraw_id).success
    assert rows(pg_s3, dncr.consents, id=records["consents"])[0]["revoked_at"] is not None

    states = {r["request_id"]: r["state"] for r in rows(pg_s3, dsar_requests)}
    assert set(states.values()) == {"completed"} and len(states) == 7


def test_erasure_killed_midway_resumes_on_a_versioned_bucket(
    postgres_warehouse, s3_versioned_store, platform_config, monkeypatch
) -> None:
    resources = {
        "warehouse": postgres_warehouse,
        "object_store": s3_versioned_store,
        "platform_config": platform_config,
    }
    world = ingest_world(resources)
    person = subject(world, "acme-au", mentioned=True)
    recordings = {
        r["call_id"]: r["object_path"]
        for r in rows(resources, call_tables.recordings, tenant_id="acme-au")
    }
    paths = [recordings[c] for c in person["call_ids"] if c in recordings]
    assert paths
    request_id = submit(resources, "acme-au", "erasure", _ids(person))
    original = erase.pseudonymise_calls

    def killed(self, actions):
        raise RuntimeError("worker killed before the call log step")

    monkeypatch.setattr(erase, "pseudonymise_calls", killed)
    assert not run(resources, request_id).success
    assert not still_present(s3_versioned_store, paths)  # every version, not just a marker
    assert _party_calls(resources, "acme-au", person["e164"])  # the call log step did not run
    monkeypatch.setattr(erase, "pseudonymise_calls", original)
    resumed = run(resources, request_id)
    assert resumed.success, resumed.failure_messages()
    assert not _party_calls(resources, "acme-au", person["e164"])
    [certificate] = rows(resources, dsar_certificates, request_id=request_id)
    assert certificate["body"]["verification"]["passed"]
    # Rewritten landing files (blanked CDR lines, redacted transcripts) keep no old version.
    rewritten = [
        item.path
        for item in s3_versioned_store.list_files("landing/cdr/acme-au")
        + s3_versioned_store.list_files("landing/crm/acme-au")
    ] + [
        row["object_path"]
        for row in rows(resources, call_tables.transcripts, tenant_id="acme-au")
        if row["call_id"] in person["mentioned_call_ids"]
    ]
    fs = s3_versioned_store.filesystem()
    for path in rewritten:
        bucket, _, key = s3_versioned_store.full_path(path).partition("/")
        page = fs.call_s3("list_object_versions", Bucket=bucket, Prefix=key)
        versions = [v for v in page.get("Versions") or [] if v["Key"] == key]
        assert len(versions) == 1, path
        text = s3_versioned_store.read_bytes(path).decode()
        assert person["email"] not in text
    assert certificate["body"]["actions_by_store"]["calls"] == {
        "pseudonymise": len(person["call_ids"])
    }


def test_erasure_holds_against_replay_on_postgresql_and_s3(pg_s3) -> None:
    """The replay test of ``tests/dsar/test_erasure_replay.py`` on the production stack."""
    erase_reland_and_scan(pg_s3, ingest_world(pg_s3))
