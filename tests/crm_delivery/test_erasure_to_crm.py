"""An erasure run end to end: its outbox tasks delivered to loopback CRMs, the confirmations
audited and listed on the certificate the erasure wrote."""

from __future__ import annotations

import json

import pytest

from cm_pipelines.crm_delivery.delivery import deliver_due
from cm_pipelines.resources.crm_connectors import CrmConnectorsResource
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.dsar import dsar_certificates, dsar_erasure_outbox
from cm_pipelines.trust.chain import verify_warehouse_chain
from tests.crm_delivery.conftest import SECRET, TIMEOUT_SECONDS, TOKEN
from tests.dsar.dsar_helpers import build_template, copy_platform, rows, run, subject, submit


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("crm_template"), calls=60)


@pytest.fixture
def local_resources(template, tmp_path):
    database, storage, _ = template
    return copy_platform(database, storage, tmp_path / "platform")


def test_an_erasure_reaches_every_crm_and_its_certificate_says_so(
    local_resources, template, hubspot, webhook
) -> None:
    world = template[2]
    person = subject(world, "acme-au")
    identifiers = [("phone", person["e164"]), ("email", person["email"])]
    request_id = submit(local_resources, "acme-au", "erasure", identifiers)
    assert run(local_resources, request_id).success
    tasks = rows(local_resources, dsar_erasure_outbox, request_id=request_id)
    assert tasks, "the subject has no CRM links: nothing to deliver"
    hubspot_refs = {ref for t in tasks if t["recipient"] == "hubspot" for ref in t["record_refs"]}
    hubspot.contacts = {ref: {} for ref in hubspot_refs}

    connectors = CrmConnectorsResource(
        hubspot_token=TOKEN,
        hubspot_api_url=hubspot.url,
        webhook_url=webhook.url,
        webhook_secret=SECRET,
        timeout_seconds=TIMEOUT_SECONDS,
    )
    report = deliver_due(
        local_resources["warehouse"], local_resources["object_store"], connectors, run_id="crm-1"
    )
    assert report.outcomes == {"done": len(tasks)}
    assert {t["status"] for t in rows(local_resources, dsar_erasure_outbox)} == {"confirmed"}
    assert hubspot.contacts == {}

    [row] = rows(local_resources, dsar_certificates, request_id=request_id)
    certificate = json.loads(local_resources["object_store"].read_bytes(row["object_path"]))
    assert certificate == row["body"]
    assert sorted(c["recipient"] for c in certificate["downstream_confirmed"]) == sorted(
        t["recipient"] for t in tasks
    )
    assert sorted(certificate["downstream_erasure_tasks"]) == sorted(t["recipient"] for t in tasks)

    confirmed = [
        e for e in rows(local_resources, audit_log) if e["action"] == "dsar.crm_task.confirmed"
    ]
    assert len(confirmed) == len(tasks)
    with local_resources["warehouse"].connect() as connection:
        assert verify_warehouse_chain(connection).ok

    sent = [r.body.decode() for r in hubspot.received + webhook.received]
    assert sent and not any(person["email"] in body or person["e164"] in body for body in sent)
