"""The privacy officer's review of a package with names the recogniser was unsure of: it waits
in ``awaiting_review`` with its key held (not shown, not sealed where ``cm dsar key`` opens
it); approval completes it and releases the key once; rejection deletes the package and puts
the request back to ``verified``. Nothing of the free text reaches output or audit."""

from __future__ import annotations

import json
import os
import re

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.domain.dsar.export_package import decrypt_package, verify_package
from cm_pipelines.domain.dsar.operator import DecisionRefused, check_review
from cm_pipelines.domain.dsar.sealed_keys import generate_key_pair
from cm_pipelines.dsar import key_handoff
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.dsar import dsar_exports, dsar_requests, dsar_steps
from tests.dsar.dsar_helpers import build_template, copy_platform, rows, run, subject, submit

UNSURE_TEXT = "I think Xandor knows."
_KEY_LINE = re.compile(r"^key:\s+[0-9a-f]{64}$", re.MULTILINE)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("dsar_review_template"))


@pytest.fixture
def world(template):
    return template[2]


@pytest.fixture
def local_resources(template, tmp_path, monkeypatch):
    database, storage, _ = template
    resources = copy_platform(database, storage, tmp_path / "platform")
    monkeypatch.setenv("CM_WAREHOUSE_URL", resources["warehouse"].url)
    monkeypatch.setenv("CM_STORAGE_URL", resources["object_store"].url)
    return resources


def _ids(person: dict) -> list[tuple[str, str]]:
    return [("phone", person["e164"]), ("email", person["email"])]


def _set_own_transcript(resources, tenant_id: str, person: dict, text: str) -> str:
    """One of the subject's own calls gets a transcript text with an unknown name in it."""
    table = call_tables.transcripts
    with resources["warehouse"].begin() as connection:
        call_id = connection.execute(
            sa.select(table.c.call_id)
            .where(table.c.tenant_id == tenant_id, table.c.call_id.in_(person["call_ids"]))
            .order_by(table.c.call_id)
            .limit(1)
        ).scalar_one()
        connection.execute(
            sa.update(table)
            .where(table.c.tenant_id == tenant_id, table.c.call_id == call_id)
            .values(text=text)
        )
    return call_id


def _state(resources, request_id: str) -> str:
    return rows(resources, dsar_requests, request_id=request_id)[0]["state"]


def _export_details(resources, request_id: str) -> dict:
    [step] = rows(resources, dsar_steps, request_id=request_id, step="export")
    return step["details"]


def test_review_decisions_only_fit_a_request_awaiting_review() -> None:
    assert check_review("dsar-1", "awaiting_review", "  checked  the  text ") == "checked the text"
    for state in ("verified", "in_progress", "completed", "refused"):
        with pytest.raises(DecisionRefused, match="not awaiting review"):
            check_review("dsar-1", state, None)
    with pytest.raises(DecisionRefused, match="printable"):
        check_review("dsar-1", "awaiting_review", "x" * 501)


def test_certain_names_only_go_straight_through(local_resources, world) -> None:
    person = subject(world, "acme-au")
    request_id = submit(local_resources, "acme-au", "access", _ids(person))
    outcome = run(local_resources, request_id)
    assert outcome.success, outcome.failure_messages()
    details = _export_details(local_resources, request_id)
    assert details["review"] == "none" and details["names"]["texts_with_unsure"] == 0
    assert outcome.key is not None and _state(local_resources, request_id) == "completed"


def test_unsure_name_waits_for_review_then_approval_releases_the_key(
    local_resources, world
) -> None:
    from cm_pipelines.cli.main import cm

    person = subject(world, "acme-au")
    call_id = _set_own_transcript(local_resources, "acme-au", person, UNSURE_TEXT)
    request_id = submit(local_resources, "acme-au", "access", _ids(person))
    runner = CliRunner()
    ran = runner.invoke(cm, ["dsar", "run", request_id, "--actor", "priya"])
    assert ran.exit_code == 0, ran.output
    assert "awaiting_review" in ran.output and not _KEY_LINE.search(ran.output)
    assert "held until" in ran.output
    assert _state(local_resources, request_id) == "awaiting_review"
    object_store = local_resources["object_store"]
    assert not object_store.exists(key_handoff.sealed_key_path(request_id))
    assert key_handoff.read_dropped_key(request_id) is None
    assert key_handoff.has_held_key(request_id, object_store)
    names = _export_details(local_resources, request_id)["names"]
    assert names["texts_with_unsure"] >= 1
    assert f"transcripts/{call_id}.txt" in names["unsure_at"]

    listed = runner.invoke(cm, ["dsar", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert request_id in listed.output and "awaiting_review" in listed.output
    report = runner.invoke(cm, ["dsar", "review", request_id])
    assert report.exit_code == 0, report.output
    assert f"unsure transcripts/{call_id}.txt: [name] at" in report.output
    status = runner.invoke(cm, ["dsar", "status", request_id])
    assert "redaction:" in status.output and "days left:" in status.output
    again = runner.invoke(cm, ["dsar", "run", request_id, "--actor", "priya"])
    assert again.exit_code != 0 and "awaits the privacy officer's review" in again.output
    support = runner.invoke(cm, ["dsar", "review", request_id, "--approve", "--by", "sam"])
    assert support.exit_code != 0 and "refused" in support.output
    assert _state(local_resources, request_id) == "awaiting_review"

    approved = runner.invoke(cm, ["dsar", "review", request_id, "--approve", "--by", "priya"])
    assert approved.exit_code == 0, approved.output
    [key_line] = _KEY_LINE.findall(approved.output)
    key = bytes.fromhex(key_line.split()[1])
    assert _state(local_resources, request_id) == "completed"
    assert not key_handoff.has_held_key(request_id, object_store)
    [export] = rows(local_resources, dsar_exports, request_id=request_id)
    _, plain = decrypt_package(object_store.read_bytes(export["object_path"]), key)
    verify_package(plain)
    twice = runner.invoke(cm, ["dsar", "review", request_id, "--approve", "--by", "priya"])
    assert twice.exit_code != 0 and "not awaiting review" in twice.output
    assert len(twice.output.strip().splitlines()) == 1

    audit = rows(local_resources, audit_log)
    assert any(entry["action"] == "dsar.review.approved" for entry in audit)
    everything = json.dumps(audit, default=str) + "".join(
        r.output for r in (ran, listed, report, status, approved, twice)
    )
    assert "Xandor" not in everything and person["e164"] not in everything


def test_rejection_deletes_the_package_and_a_rerun_after_the_edit_completes(
    local_resources, world
) -> None:
    from cm_pipelines.cli.main import cm

    person = subject(world, "acme-au")
    _set_own_transcript(local_resources, "acme-au", person, UNSURE_TEXT)
    request_id = submit(local_resources, "acme-au", "access", _ids(person))
    first = run(local_resources, request_id)
    assert first.success and first.key is None
    [export] = rows(local_resources, dsar_exports, request_id=request_id)
    object_store = local_resources["object_store"]
    assert object_store.exists(export["object_path"])

    note = "Xandor is the caller's dog"
    runner = CliRunner()
    rejected = runner.invoke(
        cm, ["dsar", "review", request_id, "--reject", "--by", "priya", "--reason", note]
    )
    assert rejected.exit_code == 0, rejected.output
    assert _state(local_resources, request_id) == "verified"
    assert not object_store.exists(export["object_path"])
    assert rows(local_resources, dsar_exports, request_id=request_id) == []
    assert not key_handoff.has_held_key(request_id, object_store)
    [entry] = [e for e in rows(local_resources, audit_log) if e["action"] == "dsar.review.rejected"]
    assert entry["details"] == {"packages_discarded": 1, "note_chars": len(note)}
    assert "Xandor" not in json.dumps(rows(local_resources, audit_log), default=str)

    _set_own_transcript(local_resources, "acme-au", person, "I think it works.")
    second = run(local_resources, request_id)
    assert second.success, second.failure_messages()
    assert second.key is not None and _state(local_resources, request_id) == "completed"


def test_a_held_key_is_sealed_apart_and_moves_to_collection_on_approval(
    local_resources, world, monkeypatch
) -> None:
    from cm_pipelines.cli.main import cm
    from cm_pipelines.dsar.jobs import dsar_fulfillment_job
    from cm_pipelines.dsar.run_config import fulfilment_run_config

    monkeypatch.setenv("CM_DSAR_KEY_RECIPIENT", generate_key_pair()[1].hex())
    person = subject(world, "acme-au")
    _set_own_transcript(local_resources, "acme-au", person, UNSURE_TEXT)
    request_id = submit(local_resources, "acme-au", "access", _ids(person))
    result = dsar_fulfillment_job.execute_in_process(
        run_config=fulfilment_run_config(request_id),
        resources=local_resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    object_store = local_resources["object_store"]
    assert object_store.exists(key_handoff.held_sealed_path(request_id))
    assert not object_store.exists(key_handoff.sealed_key_path(request_id))
    approved = CliRunner().invoke(cm, ["dsar", "review", request_id, "--approve", "--by", "priya"])
    assert approved.exit_code == 0, approved.output
    assert object_store.exists(key_handoff.sealed_key_path(request_id))
    assert not object_store.exists(key_handoff.held_sealed_path(request_id))
    assert _state(local_resources, request_id) == "completed"


def test_an_approval_away_from_the_held_key_stops_before_completing(
    local_resources, world, monkeypatch, tmp_path
) -> None:
    from cm_pipelines.cli.main import cm

    person = subject(world, "acme-au")
    _set_own_transcript(local_resources, "acme-au", person, UNSURE_TEXT)
    request_id = submit(local_resources, "acme-au", "access", _ids(person))
    assert run(local_resources, request_id).key is None
    this_machine = os.environ.get("CM_HOME")
    monkeypatch.setenv("CM_HOME", str(tmp_path / "another-machine"))
    approved = CliRunner().invoke(cm, ["dsar", "review", request_id, "--approve", "--by", "priya"])
    assert approved.exit_code != 0 and "is not on this machine" in approved.output
    assert _state(local_resources, request_id) == "in_progress"
    assert not _KEY_LINE.search(approved.output)
    if this_machine is None:
        monkeypatch.delenv("CM_HOME")
    else:
        monkeypatch.setenv("CM_HOME", this_machine)
    finished = CliRunner().invoke(cm, ["dsar", "run", request_id, "--actor", "priya"])
    assert finished.exit_code == 0, finished.output
    assert len(_KEY_LINE.findall(finished.output)) == 1
    assert _state(local_resources, request_id) == "completed"


def test_a_package_expiring_while_awaiting_review_takes_its_held_key(
    local_resources, world
) -> None:
    from datetime import UTC, datetime, timedelta

    from cm_pipelines.dsar.assets import dsar_export_expiry

    person = subject(world, "acme-au")
    _set_own_transcript(local_resources, "acme-au", person, UNSURE_TEXT)
    request_id = submit(local_resources, "acme-au", "access", _ids(person))
    assert run(local_resources, request_id).key is None
    object_store = local_resources["object_store"]
    assert key_handoff.has_held_key(request_id, object_store)
    with local_resources["warehouse"].begin() as connection:
        connection.execute(
            sa.update(dsar_exports).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert dg.materialize([dsar_export_expiry], resources=local_resources).success
    assert not key_handoff.has_held_key(request_id, object_store)
