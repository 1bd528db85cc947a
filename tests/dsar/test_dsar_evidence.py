"""Evidence that agrees with itself: every date of a request is a day of its tenant's zone,
stated beside it (status, certificate, audit), also around midnight in a zone ahead of UTC;
done requests keep only keyed hashes; an erasure clears the subject from the tenant's other
requests; evidence is purged after its own years, with a proof."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cm_pipelines.domain.dsar.clock import add_calendar_months, local_day
from cm_pipelines.dsar.evidence_retention import purge_expired_evidence
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.erase_certificate import write_certificate
from cm_pipelines.dsar.request_records import load_request
from cm_pipelines.dsar.request_status import request_status
from cm_pipelines.platform import settings
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.dsar import (
    dsar_certificates,
    dsar_erased_subjects,
    dsar_plan_items,
    dsar_requests,
    dsar_steps,
)
from tests.dsar.dsar_helpers import (
    build_template,
    copy_platform,
    hash_of,
    rows,
    run,
    subject,
    submit,
)

SYDNEY = "Australia/Sydney"
JUST_AFTER_MIDNIGHT = "2026-11-30T13:30:00+00:00"  # 00:30 on 1 December in Sydney (UTC+11)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("dsar_evidence"))


@pytest.fixture
def local_resources(template, tmp_path):
    database, storage, _ = template
    return copy_platform(database, storage, tmp_path / "platform")


def _ids(person: dict) -> list[tuple[str, str]]:
    return [("phone", person["e164"]), ("email", person["email"])]


def _erase(resources, person: dict, **fields) -> str:
    request_id = submit(resources, "acme-au", "erasure", _ids(person), **fields)
    outcome = run(resources, request_id)
    assert outcome.success, outcome.failure_messages()
    return request_id


def test_dates_are_days_of_the_tenant_zone_everywhere(local_resources, template) -> None:
    person = subject(template[2], "acme-au")
    request_id = submit(
        local_resources, "acme-au", "erasure", _ids(person), received_at=JUST_AFTER_MIDNIGHT
    )
    outcome = run(local_resources, request_id)
    assert outcome.success, outcome.failure_messages()
    gate_metadata = [
        event.event_specific_data.metadata
        for event in outcome.result.all_events
        if event.event_type_value == "STEP_OUTPUT" and event.step_key == "dsar_gate"
    ]
    assert gate_metadata and gate_metadata[0]["time_zone"].value == SYDNEY
    tenant = local_resources["platform_config"].tenants_by_id()["acme-au"]
    with local_resources["warehouse"].connect() as connection:
        status = request_status(connection, request_id, tenant=tenant)
        record = load_request(connection, request_id)
    assert record.completed_at is not None
    assert status["time_zone"] == SYDNEY and status["received_on"] == "2026-12-01"
    assert status["completed_on"] == local_day(record.completed_at, SYDNEY).isoformat()
    [certificate] = rows(local_resources, dsar_certificates, request_id=request_id)
    body = certificate["body"]
    for name in ("time_zone", "received_on", "due_date", "completed_on"):
        assert body[name] == status[name], name
    submitted = [r for r in rows(local_resources, audit_log) if r["action"] == "dsar.submit"]
    assert submitted[-1]["details"]["time_zone"] == SYDNEY
    assert submitted[-1]["details"]["received_on"] == "2026-12-01"
    [complete] = rows(local_resources, dsar_steps, request_id=request_id, step="complete")
    assert complete["details"]["time_zone"] == SYDNEY

    # Completed 35 minutes after receipt, still before midnight UTC: the same Sydney day.
    fulfilment = FulfilmentContext(
        warehouse=local_resources["warehouse"],
        object_store=local_resources["object_store"],
        tenant=tenant,
        request_id=request_id,
        hash_key=settings.identifier_hash_key(),
    )
    rewritten = write_certificate(fulfilment, record, datetime(2026, 11, 30, 14, 5, tzinfo=UTC))
    assert (rewritten.body["received_on"], rewritten.body["completed_on"]) == (
        "2026-12-01",
        "2026-12-01",
    )


def test_done_requests_keep_hashes_and_an_erasure_clears_other_requests(
    local_resources, template
) -> None:
    world = template[2]
    erased = subject(world, "acme-au", mentioned=True)
    other = next(
        p for p in world.subjects if p["tenant_id"] == "acme-au" and p["e164"] != erased["e164"]
    )
    access = submit(local_resources, "acme-au", "access", _ids(other))
    assert run(local_resources, access).success
    [done] = rows(local_resources, dsar_requests, request_id=access)
    assert done["state"] == "completed" and done["identifiers"] == []
    assert {h["hash"] for h in done["identifier_hashes"]} == {
        hash_of(other["e164"]),
        hash_of(other["email"]),
    }
    waiting_same = submit(local_resources, "acme-au", "access", _ids(erased), verify=False)
    waiting_other = submit(local_resources, "acme-au", "access", _ids(other), verify=False)

    request_id = submit(local_resources, "acme-au", "erasure", [("phone", erased["e164"])])
    assert run(local_resources, request_id).success

    [same] = rows(local_resources, dsar_requests, request_id=waiting_same)
    assert same["identifiers"] == [{"kind": "email", "value": erased["email"]}]
    assert erased["e164"] not in json.dumps(same, default=str)
    assert len(same["identifier_hashes"]) == 2  # whom it was about stays stated, as hashes
    [untouched] = rows(local_resources, dsar_requests, request_id=waiting_other)
    assert {i["value"] for i in untouched["identifiers"]} == {other["e164"], other["email"]}


def test_evidence_is_purged_after_its_years_with_a_proof(local_resources, template) -> None:
    person = subject(template[2], "acme-au")
    request_id = _erase(local_resources, person)
    [request] = rows(local_resources, dsar_requests, request_id=request_id)
    [certificate] = rows(local_resources, dsar_certificates, request_id=request_id)
    store = local_resources["object_store"]
    assert store.exists(certificate["object_path"])
    completed_on = local_day(request["completed_at"], SYDNEY)
    purge_day = add_calendar_months(completed_on, 12 * 6)
    day_before = datetime.combine(purge_day - timedelta(days=1), datetime.min.time(), UTC)

    def purge(now: datetime):
        return purge_expired_evidence(
            local_resources["warehouse"], store, now=now, years=6, run_id="r1"
        )

    assert purge(day_before).purged == []
    assert rows(local_resources, dsar_requests, request_id=request_id)

    later = datetime.combine(purge_day + timedelta(days=1), datetime.min.time(), UTC)
    outcome = purge(later)
    assert request_id in outcome.purged and outcome.manifest_path
    for table in (dsar_requests, dsar_steps, dsar_plan_items, dsar_certificates):
        assert not rows(local_resources, table, request_id=request_id), table.name
    assert not store.exists(certificate["object_path"])
    assert outcome.rows_by_table["dsar_plan_items"] > 0
    proof = json.loads(store.read_bytes(outcome.manifest_path))
    [entry] = [e for e in proof["requests"] if e["request_id"] == request_id]
    assert entry["certificate_sha256"] == certificate["sha256"]
    assert entry["done_on"] == completed_on.isoformat() and entry["time_zone"] == SYDNEY
    text = json.dumps(proof)
    assert person["e164"] not in text and person["email"] not in text
    audited = [r for r in rows(local_resources, audit_log) if r["action"] == "dsar.evidence.purged"]
    assert [r["object_refs"]["request_id"] for r in audited] == [request_id]
    # the ledger outlives the evidence: re-landed data stays erased
    assert rows(local_resources, dsar_erased_subjects, request_id=request_id)
    assert purge(later).purged == []  # a second run finds nothing left
