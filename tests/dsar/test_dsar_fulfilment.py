"""dsar_fulfillment_job end to end on a generated, ingested world (SQLite + folder): every
request type, the verification gate, tenant isolation, exemptions in the certificate, masking
in the package, and an erasure killed midway and resumed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.domain.dncr.evidence_floors import FLOORS
from cm_pipelines.domain.dsar.export_package import decrypt_package, verify_package
from cm_pipelines.domain.dsar.planning import (
    BASIS_BLOCKED,
    BASIS_CONSENT,
    BASIS_SUPPRESSION,
    dnc_record_basis,
)
from cm_pipelines.domain.identifiers import extract_identifiers
from cm_pipelines.dsar import key_handoff
from cm_pipelines.dsar.assets import dsar_export_expiry, dsar_sla
from cm_pipelines.dsar.checks import dsar_none_overdue
from cm_pipelines.dsar.fulfil import plan_items
from cm_pipelines.dsar.request_changes import claim_request, set_state
from cm_pipelines.dsar.request_records import DsarError
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.dsar import (
    dsar_certificates,
    dsar_erasure_outbox,
    dsar_exports,
    dsar_plan_items,
    dsar_requests,
    dsar_steps,
    dsar_store_results,
    restrictions,
)
from tests.dsar.dsar_helpers import (
    add_call_hold,
    add_number_records,
    build_template,
    copy_platform,
    hash_of,
    package_members,
    readable_text,
    rows,
    run,
    subject,
    submit,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One generated, ingested world per module; each test works on its own copy."""
    return build_template(tmp_path_factory.mktemp("dsar_template"))


@pytest.fixture
def world(template):
    return template[2]


@pytest.fixture
def local_resources(template, tmp_path):
    """Overrides the empty platform of conftest: a copy of the ingested template world."""
    database, storage, _ = template
    return copy_platform(database, storage, tmp_path / "platform")


def _ids(person: dict) -> list[tuple[str, str]]:
    return [("phone", person["e164"]), ("email", person["email"])]


def _store_listing(resources) -> set[str]:
    return {item.path for item in resources["object_store"].list_files("landing")}


def test_access_package_is_masked_sealed_and_matches_its_manifest(local_resources, world) -> None:
    person = subject(world, "acme-au", mentioned=True)
    add_number_records(local_resources, "acme-au", person["e164"])
    request_id = submit(local_resources, "acme-au", "access", _ids(person))
    outcome = run(local_resources, request_id)
    assert outcome.success, outcome.failure_messages()
    assert outcome.key is not None and len(outcome.key) == 32

    [export] = rows(local_resources, dsar_exports, request_id=request_id)
    assert export["object_path"].startswith(f"exports/dsar/acme-au/{request_id}/")
    assert export["expires_at"] > export["created_at"]
    sealed = local_resources["object_store"].read_bytes(export["object_path"])
    associated, plain = decrypt_package(sealed, outcome.key)
    assert associated == request_id
    manifest = verify_package(plain)  # every file's sha256 matches the manifest
    members = package_members(plain)
    categories = manifest["categories"]
    assert categories["calls"]["count"] == len(person["call_ids"])
    assert categories["transcripts"]["count"] >= len(person["mentioned_call_ids"])
    for store_name in ("consents", "wash_results", "blocked_calls", "suppression_entries"):
        assert categories[store_name]["count"] == 1
    assert any(name.startswith("recordings/") and name.endswith(".wav") for name in members)

    # The other data subject is masked: no phone number or email but the requester's own.
    for name, data in members.items():
        if name.endswith((".csv", ".json", ".txt")):
            found = extract_identifiers(readable_text(data), "AU")
            assert found.phones <= {person["e164"]}, name
            assert found.emails <= {person["email"]}, name
    calls = json.loads(members["data/calls.json"])
    assert all(person["e164"] in (c["caller_number"], c["callee_number"]) for c in calls)
    transcripts = json.loads(members["data/transcripts.json"])
    mentioned = [t for t in transcripts if not t["your_call"]]
    assert {t["call_id"] for t in mentioned} == set(person["mentioned_call_ids"])

    # Other people's names are masked in free text too (transcripts, AI notes), counted only.
    others = {
        other["name"]
        for other in world.subjects
        if other["tenant_id"] == "acme-au" and other["name"] != person["name"]
    }
    texts = [t["text"] for t in transcripts] + [
        a["text"] for a in json.loads(members.get("data/ai_outputs.json", b"[]"))
    ]
    assert texts and any("[name]" in text for text in texts)
    for text in texts:
        assert not any(name in text for name in others)
    [step] = rows(local_resources, dsar_steps, request_id=request_id, step="export")
    names_report = step["details"]["names"]
    assert names_report["names_certain"] >= 1 and names_report["texts"] >= len(texts)

    # The key is returned once: not in the store, the warehouse or the run's events.
    key_hex = outcome.key.hex()
    object_store = local_resources["object_store"]
    for prefix in ("landing", "exports", "audit"):
        for item in object_store.list_files(prefix):
            data = object_store.read_bytes(item.path)
            assert outcome.key not in data and key_hex.encode() not in data
    assert key_hex not in json.dumps(rows(local_resources, dsar_exports), default=str)
    assert key_hex not in json.dumps(rows(local_resources, dsar_steps), default=str)
    assert all(key_hex not in str(event) for event in outcome.result.all_events)
    assert key_handoff.take_dropped_key(request_id) is None
    assert rows(local_resources, dsar_requests, request_id=request_id)[0]["state"] == "completed"


def test_portability_exports_only_what_the_subject_provided(local_resources, world) -> None:
    person = subject(world, "beta-us")
    request_id = submit(local_resources, "beta-us", "portability", _ids(person))
    outcome = run(local_resources, request_id)
    assert outcome.success, outcome.failure_messages()
    [export] = rows(local_resources, dsar_exports, request_id=request_id)
    _, plain = decrypt_package(
        local_resources["object_store"].read_bytes(export["object_path"]), outcome.key
    )
    categories = verify_package(plain)["categories"]
    assert "calls" in categories and "ai_outputs" not in categories


def test_a_package_built_by_a_run_launched_elsewhere_leaves_its_key_to_collect_once(
    local_resources, world
) -> None:
    from cm_pipelines.dsar.jobs import dsar_fulfillment_job
    from cm_pipelines.dsar.run_config import fulfilment_run_config

    person = subject(world, "delta-gb")
    request_id = submit(local_resources, "delta-gb", "access", _ids(person))
    result = dsar_fulfillment_job.execute_in_process(
        run_config=fulfilment_run_config(request_id),
        resources=local_resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    key = key_handoff.take_dropped_key(request_id)
    assert key is not None and key_handoff.take_dropped_key(request_id) is None
    [export] = rows(local_resources, dsar_exports, request_id=request_id)
    decrypt_package(local_resources["object_store"].read_bytes(export["object_path"]), key)


def test_on_other_machines_the_key_is_sealed_to_the_privacy_team_and_opened_once(
    local_resources, world, monkeypatch, tmp_path
) -> None:
    from cm_pipelines.cli.main import cm
    from cm_pipelines.dsar.jobs import dsar_fulfillment_job
    from cm_pipelines.dsar.run_config import fulfilment_run_config

    runner = CliRunner()
    private_file = tmp_path / "privacy-team.key"
    made = runner.invoke(cm, ["dsar", "keypair", "--out", str(private_file)])
    assert made.exit_code == 0, made.output
    assert oct(private_file.stat().st_mode & 0o777) == "0o600"
    recipient = made.stdout.strip().split("=", 1)[1]
    again = runner.invoke(cm, ["dsar", "keypair", "--out", str(private_file)])
    assert again.exit_code != 0 and "never overwrites" in again.output
    monkeypatch.setenv("CM_DSAR_KEY_RECIPIENT", recipient)
    object_store = local_resources["object_store"]
    monkeypatch.setenv("CM_STORAGE_URL", object_store.root_url())
    monkeypatch.setenv("CM_WAREHOUSE_URL", local_resources["warehouse"].url)

    person = subject(world, "delta-gb")
    request_id = submit(local_resources, "delta-gb", "access", _ids(person))
    result = dsar_fulfillment_job.execute_in_process(
        run_config=fulfilment_run_config(request_id),
        resources=local_resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    assert key_handoff.take_dropped_key(request_id) is None  # nothing left on the worker
    sealed_path = key_handoff.sealed_key_path(request_id)
    assert sealed_path.startswith("dsar_keys/") and object_store.exists(sealed_path)
    [export] = rows(local_resources, dsar_exports, request_id=request_id)
    assert not export["object_path"].startswith("dsar_keys/")
    [execute_output] = [
        event.step_output_data.metadata
        for event in result.all_events
        if event.is_successful_output and event.step_key == "dsar_execute"
    ]
    assert execute_output["key_delivery"].value == "sealed"

    no_private = runner.invoke(cm, ["dsar", "key", request_id, "--actor", "priya"])
    assert no_private.exit_code != 0 and "--private-key" in no_private.output
    wrong_file = tmp_path / "someone-else.key"
    assert runner.invoke(cm, ["dsar", "keypair", "--out", str(wrong_file)]).exit_code == 0
    wrong = runner.invoke(
        cm, ["dsar", "key", request_id, "--private-key", str(wrong_file), "--actor", "priya"]
    )
    assert wrong.exit_code != 0 and "does not open" in wrong.output
    assert object_store.exists(sealed_path)  # a failed attempt loses nothing

    opened = runner.invoke(
        cm, ["dsar", "key", request_id, "--private-key", str(private_file), "--actor", "priya"]
    )
    assert opened.exit_code == 0, opened.output
    key = bytes.fromhex(opened.stdout.strip())
    decrypt_package(object_store.read_bytes(export["object_path"]), key)
    assert not object_store.exists(sealed_path)
    twice = runner.invoke(
        cm, ["dsar", "key", request_id, "--private-key", str(private_file), "--actor", "priya"]
    )
    assert twice.exit_code != 0 and "shown once" in twice.output
    [collected] = [
        entry
        for entry in rows(local_resources, audit_log)
        if entry["action"] == "dsar.export.key_collected"
    ]
    assert collected["tenant_id"] == "delta-gb"
    assert request_id in json.dumps(collected["object_refs"])
    assert key.hex() not in json.dumps(collected, default=str)


def test_an_uncollected_sealed_key_goes_with_its_expired_package(
    local_resources, world, monkeypatch
) -> None:
    from cm_pipelines.domain.dsar.sealed_keys import generate_key_pair
    from cm_pipelines.dsar.jobs import dsar_fulfillment_job
    from cm_pipelines.dsar.run_config import fulfilment_run_config

    monkeypatch.setenv("CM_DSAR_KEY_RECIPIENT", generate_key_pair()[1].hex())
    person = subject(world, "delta-gb")
    request_id = submit(local_resources, "delta-gb", "access", _ids(person))
    assert dsar_fulfillment_job.execute_in_process(
        run_config=fulfilment_run_config(request_id),
        resources=local_resources,
        instance=dg.DagsterInstance.ephemeral(),
    ).success
    sealed_path = key_handoff.sealed_key_path(request_id)
    assert local_resources["object_store"].exists(sealed_path)
    with local_resources["warehouse"].begin() as connection:
        connection.execute(
            sa.update(dsar_exports).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert dg.materialize([dsar_export_expiry], resources=local_resources).success
    assert not local_resources["object_store"].exists(sealed_path)


def test_erasure_with_hold_and_legal_obligation_exemptions(local_resources, world) -> None:
    person = subject(world, "acme-au", mentioned=True)
    held_call, *erased_calls = sorted(person["call_ids"])
    add_call_hold(local_resources, "acme-au", held_call, "H-LIT-1")
    records = add_number_records(local_resources, "acme-au", person["e164"])
    before = {
        r["call_id"]: r for r in rows(local_resources, call_tables.recordings, tenant_id="acme-au")
    }
    assert any(call_id in before for call_id in erased_calls)
    object_store = local_resources["object_store"]
    cdr_files = sorted(
        p for p in _store_listing(local_resources) if p.startswith("landing/cdr/acme-au/")
    )

    def cdr_lines() -> list[str]:
        return [
            line
            for path in cdr_files
            for line in object_store.read_bytes(path).decode().splitlines()
        ]

    held_lines_before = [line for line in cdr_lines() if held_call in line]
    assert held_lines_before
    request_id = submit(local_resources, "acme-au", "erasure", _ids(person))
    outcome = run(local_resources, request_id)
    assert outcome.success, outcome.failure_messages()
    number_hash = hash_of(person["e164"])

    calls = {r["call_id"]: r for r in rows(local_resources, call_tables.calls, tenant_id="acme-au")}
    assert person["e164"] in (calls[held_call]["src_e164"], calls[held_call]["dst_e164"])
    assert calls[held_call]["erased_at"] is None
    for call_id in erased_calls:
        call = calls[call_id]
        assert call["erased_at"] is not None and call["crm_ref"] is None
        assert number_hash in (call["src_e164"], call["dst_e164"])
        assert person["e164"] not in (call["src_e164"], call["dst_e164"])
    recordings = {r["call_id"] for r in rows(local_resources, call_tables.recordings)}
    store_paths = _store_listing(local_resources)
    for call_id in erased_calls:
        assert call_id not in recordings
        if call_id in before:
            assert before[call_id]["object_path"] not in store_paths
    if held_call in before:
        assert before[held_call]["object_path"] in store_paths
    remaining_links = rows(
        local_resources, call_tables.crm_links, tenant_id="acme-au", contact_email=person["email"]
    )
    assert {link["call_id"] for link in remaining_links} <= {held_call}
    outbox = rows(local_resources, dsar_erasure_outbox, request_id=request_id)
    assert outbox and all(task["task"] == "erase" and task["record_refs"] for task in outbox)

    # Transcripts of other calls that named the subject are redacted, not deleted.
    for call_id in person["mentioned_call_ids"]:
        [mention] = rows(
            local_resources, call_tables.transcripts, tenant_id="acme-au", call_id=call_id
        )
        found = extract_identifiers(mention["text"], "AU")
        assert person["e164"] not in found.phones and person["email"] not in found.emails
        assert "[phone]" in mention["text"] or "[email]" in mention["text"]
        document = object_store.read_bytes(mention["object_path"]).decode()
        assert person["email"] not in document
        assert person["e164"] not in extract_identifiers(document, "AU").phones

    # Legal-obligation records stay, minimised; the wash result goes.
    [consent] = rows(local_resources, dncr.consents, id=records["consents"])
    assert consent["e164"] is None and consent["e164_hash"] == number_hash
    assert rows(local_resources, dncr.blocked_calls, id=records["blocked_calls"])
    [entry] = rows(local_resources, dncr.suppression_entries, id=records["suppression_entries"])
    assert entry["e164"] is None
    assert not rows(local_resources, dncr.wash_results, id=records["wash_results"])

    # The landing CDR lines of erased calls are blanked; the held call's line is untouched.
    after = cdr_lines()
    assert [line for line in after if held_call in line] == held_lines_before
    for call_id in erased_calls:
        assert not any(call_id in line for line in after)
    national = "0" + person["e164"][3:]

    [certificate] = rows(local_resources, dsar_certificates, request_id=request_id)
    body = certificate["body"]
    stored = local_resources["object_store"].read_bytes(certificate["object_path"])
    assert json.loads(stored) == body
    assert body["verification"]["passed"]
    exemptions = {(e["store"], e["basis"]) for e in body["exemptions"]}
    assert ("calls", "legal hold H-LIT-1") in exemptions
    assert ("consents", BASIS_CONSENT) in exemptions
    assert ("blocked_calls", BASIS_BLOCKED) in exemptions
    assert ("suppression_entries", BASIS_SUPPRESSION) in exemptions
    assert body["actions_by_store"]["calls"] == {"pseudonymise": len(erased_calls), "retain": 1}
    assert number_hash in body["subject_identifier_hashes"]
    text = json.dumps(body)
    assert person["e164"] not in text and person["email"] not in text and national not in text

    [request] = rows(local_resources, dsar_requests, request_id=request_id)
    assert request["state"] == "completed" and request["identifiers"] == []
    assert request["identifiers_erased_at"] is not None
    assert person["email"] not in json.dumps(request, default=str)

    audit = json.dumps(rows(local_resources, audit_log), default=str)
    assert person["e164"] not in audit and person["email"] not in audit
    actions = {r["action"] for r in rows(local_resources, audit_log)}
    assert {
        "dsar.submit",
        "dsar.verify",
        "dsar.started",
        "dsar.step.locate",
        "dsar.step.verify",
    } <= actions
    assert "dsar.step.complete" in actions


def test_erasure_keeps_do_not_call_records_under_the_tenants_evidence_floor(
    local_resources, world
) -> None:
    """beta-us washes against the FTC registry: its wash result of the subject stays, number
    dropped and keyed hash kept, as a 16 CFR 310.5 exemption on the certificate."""
    person = subject(world, "beta-us")
    records = add_number_records(local_resources, "beta-us", person["e164"])
    request_id = submit(local_resources, "beta-us", "erasure", _ids(person))
    outcome = run(local_resources, request_id)
    assert outcome.success, outcome.failure_messages()
    number_hash = hash_of(person["e164"])
    [wash] = rows(local_resources, dncr.wash_results, id=records["wash_results"])
    assert wash["e164"] is None and wash["e164_hash"] == number_hash
    assert rows(local_resources, dncr.blocked_calls, id=records["blocked_calls"])
    [certificate] = rows(local_resources, dsar_certificates, request_id=request_id)
    body = certificate["body"]
    assert body["verification"]["passed"]
    basis = dnc_record_basis(FLOORS["US"].rule)
    exemptions = {(e["store"], e["basis"]): e["count"] for e in body["exemptions"]}
    assert exemptions[("wash_results", basis)] >= 1
    assert exemptions[("blocked_calls", basis)] >= 1
    assert "16 CFR 310.5" in basis
    assert person["e164"] not in json.dumps(body)


def test_one_number_in_two_tenants_is_only_touched_in_the_requesting_tenant(
    local_resources, world
) -> None:
    [(number, tenants)] = world.shared_number_tenants.items()
    here, there = tenants
    calls = call_tables.calls

    def party_calls(tenant_id: str) -> set[str]:
        with local_resources["warehouse"].connect() as connection:
            return {
                row[0]
                for row in connection.execute(
                    sa.select(calls.c.call_id).where(
                        calls.c.tenant_id == tenant_id,
                        sa.or_(calls.c.src_e164 == number, calls.c.dst_e164 == number),
                    )
                )
            }

    elsewhere_before = party_calls(there)
    assert elsewhere_before and party_calls(here)
    other_tenant_rows = rows(local_resources, call_tables.calls, tenant_id=there)
    request_id = submit(local_resources, here, "erasure", [("phone", number)])
    outcome = run(local_resources, request_id)
    assert outcome.success, outcome.failure_messages()
    assert not party_calls(here)
    assert party_calls(there) == elsewhere_before
    assert rows(local_resources, call_tables.calls, tenant_id=there) == other_tenant_rows

    access_id = submit(local_resources, there, "access", [("phone", number)])
    access = run(local_resources, access_id)
    assert access.success
    [export] = rows(local_resources, dsar_exports, request_id=access_id)
    _, plain = decrypt_package(
        local_resources["object_store"].read_bytes(export["object_path"]), access.key
    )
    exported = {c["call_id"] for c in json.loads(package_members(plain)["data/calls.json"])}
    assert exported == elsewhere_before


def test_unverified_request_fails_and_nothing_is_disclosed_or_changed(
    local_resources, world
) -> None:
    person = subject(world, "gamma-sg")
    request_id = submit(local_resources, "gamma-sg", "erasure", _ids(person), verify=False)
    calls_before = rows(local_resources, call_tables.calls)
    outcome = run(local_resources, request_id)
    assert not outcome.success
    [message] = outcome.failure_messages()
    assert "not verified" in message and f"cm dsar verify {request_id}" in message
    assert person["e164"] not in message
    [request] = rows(local_resources, dsar_requests, request_id=request_id)
    assert request["state"] == "pending"
    assert not rows(local_resources, dsar_plan_items, request_id=request_id)
    assert not rows(local_resources, dsar_steps, request_id=request_id)
    assert not rows(local_resources, dsar_exports)
    assert rows(local_resources, call_tables.calls) == calls_before
    assert "dsar.gate.refused" in {r["action"] for r in rows(local_resources, audit_log)}


def _intake(local_resources, name: str, document: dict) -> str:
    path = f"intake/dsar/{name}.json"
    local_resources["object_store"].write_bytes(path, json.dumps(document).encode())
    return path


def test_launchpad_submission_is_validated_then_fulfilled(local_resources, world) -> None:
    person = subject(world, "delta-gb")
    bad_intake = _intake(local_resources, "bad", {"phones": ["12"]})
    bad = run(
        local_resources,
        "n/a",
        run_config={
            "ops": {
                "dsar_gate": {
                    "config": {
                        "tenant": "delta-gb",
                        "request_type": "access",
                        "intake_file": bad_intake,
                    }
                }
            }
        },
    )
    assert not bad.success
    [message] = bad.failure_messages()
    assert "identifiers[0] (--phone): not a valid phone number" in message
    assert not rows(local_resources, dsar_requests)

    good_intake = _intake(local_resources, "good", {"emails": [person["email"]]})
    config = {
        "tenant": "delta-gb",
        "request_type": "restriction",
        "intake_file": good_intake,
        "verification_method": "account_login",
        "verified_by": "support.agent",
    }
    good = run(local_resources, "n/a", run_config={"ops": {"dsar_gate": {"config": config}}})
    assert good.success, good.failure_messages()
    [request] = rows(local_resources, dsar_requests)
    assert request["state"] == "completed" and request["verification_method"] == "account_login"
    assert good.result.dagster_run.tags["cm/dsar_request_id"] == request["request_id"]
    # the identifiers never entered run config, and the intake file is gone once stored
    assert person["email"] not in json.dumps(good.result.dagster_run.run_config)
    assert not local_resources["object_store"].exists(good_intake)


@pytest.mark.parametrize(
    ("intake_file", "content", "expected"),
    [
        ("elsewhere/x.json", None, "under intake/dsar/"),
        ("intake/dsar/missing.json", None, "does not exist"),
        ("intake/dsar/x.json", b"not json", "not a JSON document"),
        ("intake/dsar/x.json", b'{"phones": "0491570156"}', "phones must be a list"),
        ("intake/dsar/x.json", b'{"names": []}', "unknown keys: names"),
    ],
)
def test_a_malformed_intake_file_is_refused_with_what_to_fix(
    local_resources, intake_file, content, expected
) -> None:
    if content is not None:
        local_resources["object_store"].write_bytes(intake_file, content)
    outcome = run(
        local_resources,
        "n/a",
        run_config={
            "ops": {
                "dsar_gate": {
                    "config": {
                        "tenant": "acme-au",
                        "request_type": "access",
                        "intake_file": intake_file,
                    }
                }
            }
        },
    )
    assert not outcome.success
    [message] = outcome.failure_messages()
    assert expected in message and "0491570156" not in message
    assert not rows(local_resources, dsar_requests)


def test_restriction_marks_records_and_keys_the_subject_by_hash(local_resources, world) -> None:
    person = subject(world, "beta-us")
    records = add_number_records(local_resources, "beta-us", person["e164"])
    request_id = submit(local_resources, "beta-us", "restriction", _ids(person))
    assert run(local_resources, request_id).success
    marks = rows(local_resources, restrictions, dsar_request_id=request_id)
    assert {m["identifier_hash"] for m in marks} == {
        hash_of(person["e164"]),
        hash_of(person["email"]),
    }
    calls = [
        c
        for c in rows(local_resources, call_tables.calls, tenant_id="beta-us")
        if person["e164"] in (c["src_e164"], c["dst_e164"])
    ]
    assert calls and all(c["restricted_at"] is not None for c in calls)
    links = rows(local_resources, call_tables.crm_links, contact_email=person["email"])
    assert links and all(link["restricted_at"] is not None for link in links)
    assert rows(local_resources, dncr.consents, id=records["consents"])[0]["restricted_at"]
    assert rows(local_resources, dncr.wash_results, id=records["wash_results"])[0]["restricted_at"]
    assert {t["task"] for t in rows(local_resources, dsar_erasure_outbox)} == {"restrict"}


def test_rectification_corrects_contact_details_where_held(local_resources, world) -> None:
    person = subject(world, "acme-au")
    links_before = rows(
        local_resources, call_tables.crm_links, tenant_id="acme-au", contact_email=person["email"]
    )
    assert links_before
    request_id = submit(
        local_resources,
        "acme-au",
        "rectification",
        [("email", person["email"])],
        new_email="corrected.address@example.org",
        new_phone="0412 000 111",
    )
    assert run(local_resources, request_id).success
    assert not rows(
        local_resources, call_tables.crm_links, tenant_id="acme-au", contact_email=person["email"]
    )
    corrected = rows(
        local_resources, call_tables.crm_links, contact_email="corrected.address@example.org"
    )
    assert {link["id"] for link in corrected} == {link["id"] for link in links_before}
    assert all(link["contact_e164"] == "+61412000111" for link in corrected)


def test_rectified_caller_name_from_an_intake_file(local_resources, world) -> None:
    person = subject(world, "acme-au")
    request_id = submit(
        local_resources,
        "acme-au",
        "rectification",
        [("phone", person["e164"])],
        new_caller_name="X",
    )
    intake = _intake(local_resources, "rectify", {"new_caller_name": "Jane Q Citizen"})
    outcome = run(
        local_resources,
        request_id,
        run_config={
            "ops": {"dsar_gate": {"config": {"request_id": request_id, "intake_file": intake}}}
        },
    )
    assert outcome.success, outcome.failure_messages()
    as_caller = [
        c
        for c in rows(local_resources, call_tables.calls, tenant_id="acme-au")
        if c["src_e164"] == person["e164"]
    ]
    assert as_caller and all(c["caller_name"] == "Jane Q Citizen" for c in as_caller)


def test_objection_adds_the_numbers_to_the_suppression_list(local_resources, world) -> None:
    person = subject(world, "gamma-sg")
    request_id = submit(local_resources, "gamma-sg", "objection", _ids(person))
    assert run(local_resources, request_id).success
    [entry] = rows(local_resources, dncr.suppression_entries, source="dsar_objection")
    assert (entry["tenant_id"], entry["e164"], entry["e164_hash"]) == (
        "gamma-sg",
        person["e164"],
        hash_of(person["e164"]),
    )
    assert entry["dsar_request_id"] == request_id
    again = submit(local_resources, "gamma-sg", "objection", _ids(person))
    assert run(local_resources, again).success
    assert len(rows(local_resources, dncr.suppression_entries, source="dsar_objection")) == 1


def test_withdraw_consent_revokes_the_subjects_consents_only(local_resources, world) -> None:
    person, other = [s for s in world.subjects if s["tenant_id"] == "acme-au"][:2]
    mine = add_number_records(local_resources, "acme-au", person["e164"])
    theirs = add_number_records(local_resources, "acme-au", other["e164"])
    request_id = submit(local_resources, "acme-au", "withdraw_consent", [("phone", person["e164"])])
    assert run(local_resources, request_id).success
    assert rows(local_resources, dncr.consents, id=mine["consents"])[0]["revoked_at"] is not None
    assert rows(local_resources, dncr.consents, id=theirs["consents"])[0]["revoked_at"] is None


def _snapshot(resources) -> dict:
    """The end state of an erasure, without times and run ids."""
    volatile = {
        "erased_at",
        "executed_at",
        "run_id",
        "ingested_run_id",
        "completed_at",
        "created_at",
        "recorded_at",
    }

    def clean(table, order):
        return sorted(
            ({k: v for k, v in row.items() if k not in volatile} for row in rows(resources, table)),
            key=lambda row: tuple(str(row[c]) for c in order),
        )

    certificate = rows(resources, dsar_certificates)[0]["body"]
    return {
        "calls": clean(call_tables.calls, ["tenant_id", "call_id"]),
        "recordings": clean(call_tables.recordings, ["tenant_id", "call_id"]),
        "transcripts": clean(call_tables.transcripts, ["tenant_id", "call_id"]),
        "ai_outputs": clean(call_tables.ai_outputs, ["tenant_id", "call_id", "kind"]),
        "crm_links": clean(call_tables.crm_links, ["id"]),
        "execute_results": sorted(
            (r["store"], r["acted"])
            for r in rows(resources, dsar_store_results)
            if r["phase"] == "execute"
        ),
        "plan": [
            (r["store"], r["item_ref"], r["action"], r["basis"], r["executed_at"] is not None)
            for r in sorted(
                rows(resources, dsar_plan_items), key=lambda r: (r["store"], r["item_ref"])
            )
        ],
        "certificate": {
            k: v for k, v in certificate.items() if k not in ("request_id", "body_sha256")
        },
        "objects": {
            item.path: resources["object_store"].read_bytes(item.path)
            for item in resources["object_store"].list_files("landing")
        },
    }


def test_erasure_killed_midway_resumes_to_the_same_end_state(
    tmp_path, template, local_resources, world, monkeypatch
) -> None:
    database, storage, _ = template
    twin = copy_platform(database, storage, tmp_path / "twin")  # same world, never killed
    person = subject(world, "acme-au", mentioned=True)
    for resources in (local_resources, twin):
        add_number_records(resources, "acme-au", person["e164"])

    clean_id = submit(twin, "acme-au", "erasure", _ids(person))
    assert run(twin, clean_id).success

    killed_id = submit(local_resources, "acme-au", "erasure", _ids(person))
    original = plan_items.mark_executed
    calls = {"count": 0}

    def dies_on_the_third_batch(self, connection, actions):
        calls["count"] += 1
        if calls["count"] == 3:  # after recordings and transcripts objects were deleted
            raise RuntimeError("worker killed")
        return original(self, connection, actions)

    monkeypatch.setattr(plan_items, "mark_executed", dies_on_the_third_batch)
    killed = run(local_resources, killed_id)
    assert not killed.success
    monkeypatch.setattr(plan_items, "mark_executed", original)
    [request] = rows(local_resources, dsar_requests, request_id=killed_id)
    assert request["state"] == "in_progress"
    done_before = {r["step"] for r in rows(local_resources, dsar_steps, request_id=killed_id)}
    assert "locate" in done_before and "complete" not in done_before

    resumed = run(local_resources, killed_id)
    assert resumed.success, resumed.failure_messages()
    assert "dsar.resumed" in {r["action"] for r in rows(local_resources, audit_log)}
    assert _snapshot(local_resources) == _snapshot(twin)
    again = run(local_resources, killed_id)  # a completed request is a no-op
    assert again.success
    assert _snapshot(local_resources) == _snapshot(twin)


def test_sla_lists_open_requests_by_days_left_and_its_check_fails_when_overdue(
    local_resources,
) -> None:
    now = datetime.now(UTC)
    overdue = submit(
        local_resources,
        "delta-gb",
        "access",
        [("email", "late@example.com")],
        received_at=(now - timedelta(days=50)).isoformat(),
    )
    fresh = submit(
        local_resources, "beta-us", "erasure", [("email", "new@example.com")], verify=False
    )
    result = dg.materialize(
        [dsar_sla, dsar_none_overdue], resources=local_resources, raise_on_error=False
    )
    [materialization] = result.asset_materializations_for_node("dsar_sla")
    metadata = materialization.metadata
    assert metadata["open_requests"].value == 2 and metadata["overdue"].value == 1
    table = metadata["requests"].value
    assert table.index(overdue) < table.index(fresh)
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["overdue_request_ids"].value == [overdue]

    with local_resources["warehouse"].begin() as connection:
        set_state(connection, overdue, "completed")
    result = dg.materialize([dsar_sla, dsar_none_overdue], resources=local_resources)
    assert result.get_asset_check_evaluations()[0].passed


def test_expired_packages_are_deleted(local_resources, world) -> None:
    person = subject(world, "delta-gb")
    request_id = submit(local_resources, "delta-gb", "access", _ids(person))
    assert run(local_resources, request_id).success
    [export] = rows(local_resources, dsar_exports, request_id=request_id)
    with local_resources["warehouse"].begin() as connection:
        connection.execute(
            sa.update(dsar_exports).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    result = dg.materialize([dsar_export_expiry], resources=local_resources)
    assert (
        result.asset_materializations_for_node("dsar_export_expiry")[0].metadata["deleted"].value
        == 1
    )
    assert not local_resources["object_store"].exists(export["object_path"])
    assert rows(local_resources, dsar_exports, request_id=request_id)[0]["deleted_at"] is not None


def test_intake_sensor_launches_each_verified_request_once(local_resources) -> None:
    from cm_pipelines.dsar.sensors import dsar_intake_sensor

    verified = submit(local_resources, "acme-au", "access", [("email", "a@example.com")])
    submit(local_resources, "acme-au", "access", [("email", "b@example.com")], verify=False)
    erasure = submit(local_resources, "beta-us", "erasure", [("email", "c@example.com")])
    context = dg.build_sensor_context(resources={"warehouse": local_resources["warehouse"]})
    requests = list(dsar_intake_sensor(context))
    assert [(r.run_key, r.tags["cm/dsar_request_id"]) for r in requests] == [
        (verified, verified),
        (erasure, erasure),
    ]
    assert requests[0].run_config["ops"]["dsar_gate"]["config"]["request_id"] == verified
    assert "cm/exclusive_tenant" not in requests[0].tags
    assert requests[1].tags["cm/exclusive_tenant"] == "beta-us"  # queued apart from purges


def test_cli_submit_verify_extend_run_status(local_resources, world, monkeypatch) -> None:
    from cm_pipelines.cli.main import cm

    monkeypatch.setenv("CM_WAREHOUSE_URL", local_resources["warehouse"].url)
    monkeypatch.setenv("CM_STORAGE_URL", local_resources["object_store"].url)
    person = subject(world, "beta-us")
    runner = CliRunner()
    refused = runner.invoke(
        cm,
        [
            "dsar",
            "submit",
            "--tenant",
            "nope",
            "--type",
            "access",
            "--phone",
            "12",
            "--actor",
            "sam",
        ],
    )
    assert refused.exit_code != 0 and "unknown tenant" in refused.output
    submitted = runner.invoke(
        cm,
        [
            "dsar",
            "submit",
            "--tenant",
            "beta-us",
            "--type",
            "access",
            "--phone",
            person["e164"],
            "--json",
            "--actor",
            "sam",
        ],
    )
    assert submitted.exit_code == 0, submitted.output
    request_id = json.loads(submitted.output)["request_id"]
    unverified = runner.invoke(cm, ["dsar", "run", request_id, "--actor", "priya"])
    assert unverified.exit_code != 0 and "not verified" in unverified.output
    assert (
        runner.invoke(
            cm, ["dsar", "verify", request_id, "--method", "id_document", "--by", "sam"]
        ).exit_code
        == 0
    )
    extended = runner.invoke(
        cm, ["dsar", "extend", request_id, "--reason", "complex request", "--actor", "priya"]
    )
    assert extended.exit_code == 0, extended.output
    ran = runner.invoke(cm, ["dsar", "run", request_id, "--actor", "priya"])
    assert ran.exit_code == 0, ran.output
    key_lines = [line for line in ran.output.splitlines() if line.startswith("key:")]
    assert len(key_lines) == 1 and len(key_lines[0].split()[1]) == 64
    status = runner.invoke(cm, ["dsar", "status", request_id, "--json"])
    body = json.loads(status.output)
    assert body["state"] == "completed" and body["package_path"].startswith("exports/")
    assert body["extended_due_date"] and body["store_results"]["locate"]["calls"]["found"] >= 1
    assert key_lines[0].split()[1] not in status.output
    assert person["e164"] not in status.output
    text = runner.invoke(cm, ["dsar", "status", request_id])
    assert "package:" in text.output and "completed" in text.output


def test_one_request_is_never_fulfilled_by_two_active_runs(local_resources) -> None:
    request_id = submit(local_resources, "acme-au", "erasure", [("email", "x@example.com")])
    with local_resources["warehouse"].begin() as connection:
        assert claim_request(connection, request_id, "run-a", is_run_active=bool) == "started"
    with local_resources["warehouse"].begin() as connection:
        with pytest.raises(DsarError, match="being fulfilled by run run-a"):
            claim_request(connection, request_id, "run-b", is_run_active=lambda run: True)
    with local_resources["warehouse"].begin() as connection:  # run-a died: run-b resumes
        claimed = claim_request(connection, request_id, "run-b", is_run_active=lambda r: False)
    assert claimed == "resumed"
    pending = submit(
        local_resources, "acme-au", "access", [("email", "y@example.com")], verify=False
    )
    with local_resources["warehouse"].begin() as connection:
        with pytest.raises(DsarError, match="not verified"):
            claim_request(connection, pending, "run-c", is_run_active=bool)
