"""Delivering the outbox to a loopback HubSpot and a loopback webhook that fail on purpose."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from cm_pipelines.crm_delivery import outbox
from cm_pipelines.crm_delivery.delivery import deliver_due
from cm_pipelines.domain.crm_delivery import retries
from cm_pipelines.domain.crm_delivery.requests import Task, idempotency_key
from cm_pipelines.domain.dsar import planning
from cm_pipelines.operations.checks import dsar_crm_tasks_delivered
from cm_pipelines.resources.crm_connectors import CrmConnectorsResource
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.dsar import dsar_certificates, dsar_erasure_outbox, dsar_requests
from tests.crm_delivery.conftest import SECRET, TIMEOUT_SECONDS, TOKEN

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SUBJECT_EMAIL = "jane.citizen@example.org"
NEW_EMAIL = "jane.new@example.org"
NEW_PHONE = "+61491570157"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _hubspot(fake, token: str = TOKEN, attempts: int = 5) -> CrmConnectorsResource:
    return CrmConnectorsResource(
        hubspot_token=token,
        hubspot_api_url=fake.url,
        timeout_seconds=TIMEOUT_SECONDS,
        retry_base_seconds=60,
        retry_cap_seconds=3600,
        max_attempts=attempts,
    )


def _task(warehouse, kind="erase", refs=("51", "902"), recipient="hubspot", request="dsar-1"):
    with warehouse.begin() as connection:
        return connection.execute(
            sa.insert(dsar_erasure_outbox)
            .values(
                request_id=request,
                tenant_id="acme-au",
                recipient=recipient,
                task=kind,
                record_refs=list(refs),
                status="pending",
                created_at=T0,
            )
            .returning(dsar_erasure_outbox.c.id)
        ).scalar_one()


def _row(warehouse, task_id):
    with warehouse.connect() as connection:
        return connection.execute(
            sa.select(dsar_erasure_outbox).where(dsar_erasure_outbox.c.id == task_id)
        ).one()


def _audit(warehouse):
    with warehouse.connect() as connection:
        return connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()


def _certificate(warehouse, store, request_id="dsar-1"):
    body = planning.erasure_certificate(
        request_id=request_id,
        tenant_id="acme-au",
        jurisdiction="AU",
        dates={
            "time_zone": "Australia/Sydney",
            "received_on": date(2026, 11, 20).isoformat(),
            "completed_on": date(2026, 12, 2).isoformat(),
        },
        identifier_hashes=["hash-1"],
        located={"crm_links": 2},
        plan=[],
        verification=planning.ErasureVerification({}, {}, {}),
        outbox_recipients=["hubspot"],
    )
    path = f"audit/dsar/acme-au/{request_id}/erasure_certificate.json"
    store.write_bytes(path, json.dumps(body).encode())
    with warehouse.begin() as connection:
        connection.execute(
            sa.insert(dsar_certificates).values(
                request_id=request_id,
                tenant_id="acme-au",
                object_path=path,
                sha256="0" * 64,
                body=body,
                created_at=T0,
            )
        )
    return path


def test_hubspot_timeout_429_503_then_success_confirms_audits_and_certifies(
    sqlite_warehouse, local_store, hubspot
) -> None:
    hubspot.contacts = {"51": {"email": SUBJECT_EMAIL}, "902": {"phone": "+61491570156"}}
    hubspot.script = ["timeout", (429, {"Retry-After": "600"}), (503, {})]
    path = _certificate(sqlite_warehouse, local_store)
    task_id = _task(sqlite_warehouse)
    clock, connectors = Clock(), _hubspot(hubspot)

    def run():
        return deliver_due(sqlite_warehouse, local_store, connectors, run_id="r", clock=clock)

    assert run().outcomes == {"retry": 1}  # timed out
    row = _row(sqlite_warehouse, task_id)
    assert (row.attempts, row.last_outcome, row.last_status_code) == (1, "timeout", None)
    clock.advance(30)
    assert run().due == 0 and len(hubspot.received) == 1  # not due before its backoff
    clock.advance(30)
    assert run().outcomes == {"retry_after": 1}
    row = _row(sqlite_warehouse, task_id)
    assert (row.attempts, row.last_status_code) == (2, 429)
    assert row.next_attempt_at.replace(tzinfo=UTC) == clock.now + timedelta(seconds=600)
    clock.advance(599)
    assert run().due == 0
    clock.advance(1)
    assert run().outcomes == {"retry": 1}
    assert _row(sqlite_warehouse, task_id).last_status_code == 503
    clock.advance(240)
    report = run()
    assert report.outcomes == {"done": 1} and report.certificates_amended == 1
    row = _row(sqlite_warehouse, task_id)
    assert (row.status, row.attempts, row.last_status_code) == ("confirmed", 4, 204)
    assert hubspot.contacts == {}

    # every attempt at contact 51 carried the same key; 902 its own; Bearer auth each time
    task = Task(task_id, "dsar-1", "acme-au", "hubspot", "erase", ("51", "902"))
    key = idempotency_key(task)  # the task as delivery built it
    assert row.idempotency_key == key
    by_contact: dict[str, set[str]] = {}
    for request in hubspot.received:
        assert (request.method, request.path) == ("POST", "/crm/v3/objects/contacts/gdpr-delete")
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert set(request.json()) == {"objectId"}  # nothing but the CRM's own id
        by_contact.setdefault(request.json()["objectId"], set()).add(
            request.headers["Idempotency-Key"]
        )
    assert by_contact == {"51": {f"{key}-0"}, "902": {f"{key}-1"}}
    assert len(hubspot.received) == 5

    [entry] = [e for e in _audit(sqlite_warehouse) if e.action == "dsar.crm_task.confirmed"]
    assert entry.object_refs == {"request_id": "dsar-1", "outbox_task": task_id}
    assert entry.details["attempts"] == 4 and entry.details["records"] == 2
    certificate = json.loads(local_store.read_bytes(path))
    assert certificate["downstream_confirmed"] == [
        {
            "recipient": "hubspot",
            "task": "erase",
            "confirmed_on": "2026-12-03",
            "outbox_task": task_id,
        }
    ]
    with sqlite_warehouse.connect() as connection:
        stored = connection.execute(sa.select(dsar_certificates)).one()
    assert stored.body == certificate

    clock.advance(3600)
    assert run().due == 0 and len(hubspot.received) == 5  # re-run: nothing sent again


def test_the_ceiling_dead_letters_and_fails_the_watch(sqlite_warehouse, local_store, hubspot):
    hubspot.contacts = {"51": {}}
    hubspot.script = [(503, {})] * 3
    task_id = _task(sqlite_warehouse, refs=("51",))
    clock, connectors = Clock(), _hubspot(hubspot, attempts=3)
    for delay in (0, 60, 120):
        clock.advance(delay)
        deliver_due(sqlite_warehouse, local_store, connectors, clock=clock)
    row = _row(sqlite_warehouse, task_id)
    assert (row.status, row.attempts, row.last_outcome) == (
        "dead_letter",
        3,
        "http_503_after_3_attempts",
    )
    assert row.next_attempt_at is None and row.dead_lettered_at is not None
    clock.advance(86400)
    assert deliver_due(sqlite_warehouse, local_store, connectors, clock=clock).due == 0
    assert len(hubspot.received) == 3 and hubspot.contacts == {"51": {}}
    [entry] = [e for e in _audit(sqlite_warehouse) if e.action == "dsar.crm_task.dead_letter"]
    assert entry.details["status_code"] == 503

    result = dsar_crm_tasks_delivered(warehouse=sqlite_warehouse)
    assert not result.passed
    assert result.metadata["dead_letter"].value == 1 and result.metadata["stuck"].value == 0
    assert result.metadata["dead_letter_task_ids"].value == [f"outbox:{task_id}"]


def test_bad_credentials_charge_no_attempt_and_stop_calling_that_crm(
    sqlite_warehouse, local_store, hubspot
):
    hubspot.contacts = {"51": {}, "77": {}}
    first, second = (
        _task(sqlite_warehouse, refs=("51",)),
        _task(sqlite_warehouse, refs=("77",), request="dsar-2"),
    )
    clock = Clock()
    report = deliver_due(
        sqlite_warehouse, local_store, _hubspot(hubspot, token="wrong"), clock=clock
    )
    assert report.auth_failed == {"hubspot"}
    assert report.outcomes == {"auth_failure": 1, "skipped_after_auth_failure": 1}
    assert len(hubspot.received) == 1  # the second task was not sent with a refused token
    row = _row(sqlite_warehouse, first)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 0, 401)
    assert _row(sqlite_warehouse, second).attempts == 0
    clock.advance(60)
    report = deliver_due(sqlite_warehouse, local_store, _hubspot(hubspot), clock=clock)
    assert report.outcomes == {"done": 2}


def test_a_run_killed_after_its_claim_resends_with_the_same_key(
    sqlite_warehouse, local_store, hubspot
):
    """The first run claimed and sent, then died before recording: HubSpot already deleted the
    contact, so the resend answers 404, which for a GDPR delete means done."""
    hubspot.contacts = {"902": {}}  # 51 was deleted by the killed run
    task_id = _task(sqlite_warehouse)
    connectors, clock = _hubspot(hubspot), Clock()
    with sqlite_warehouse.connect() as connection:
        [due] = outbox.due_tasks(connection, clock())
    key = idempotency_key(due.task)
    with sqlite_warehouse.begin() as connection:
        assert outbox.claim(
            connection,
            due,
            now=clock(),
            policy=connectors.policy(),
            idempotency_key=key,
            connector="hubspot",
        )
    with sqlite_warehouse.begin() as connection:  # a second claim of that attempt loses
        assert not outbox.claim(
            connection,
            due,
            now=clock(),
            policy=connectors.policy(),
            idempotency_key=key,
            connector="hubspot",
        )
    assert deliver_due(sqlite_warehouse, local_store, connectors, clock=clock).due == 0
    clock.advance(60)
    report = deliver_due(sqlite_warehouse, local_store, connectors, clock=clock)
    assert report.outcomes == {"done": 1}
    row = _row(sqlite_warehouse, task_id)
    assert (row.status, row.attempts, row.idempotency_key) == ("confirmed", 2, key)
    assert [r.headers["Idempotency-Key"] for r in hubspot.received] == [f"{key}-0", f"{key}-1"]
    assert report.certificates_amended == 0  # no certificate (not an erasure request here)


def test_rectify_and_restrict_patch_only_the_fields_the_crm_needs(
    sqlite_warehouse, local_store, hubspot
):
    hubspot.contacts = {"51": {"email": SUBJECT_EMAIL}}
    with sqlite_warehouse.begin() as connection:
        connection.execute(
            sa.insert(dsar_requests).values(
                request_id="dsar-r",
                tenant_id="acme-au",
                request_type="rectification",
                jurisdiction="AU",
                identifiers=[{"kind": "email", "value": SUBJECT_EMAIL}],
                identifier_hashes=[],
                received_at=T0,
                received_on=T0.date(),
                due_date=T0.date(),
                state="completed",
                submitted_by="t",
                rectification={"email": NEW_EMAIL, "e164": NEW_PHONE, "caller_name": "Jane N"},
                created_at=T0,
                updated_at=T0,
            )
        )
    _task(sqlite_warehouse, kind="rectify", refs=("51",), request="dsar-r")
    _task(sqlite_warehouse, kind="restrict", refs=("51",), request="dsar-s")
    report = deliver_due(sqlite_warehouse, local_store, _hubspot(hubspot), clock=Clock())
    assert report.outcomes == {"done": 2}
    rectify, restrict = hubspot.received
    assert (rectify.method, rectify.path) == ("PATCH", "/crm/v3/objects/contacts/51")
    assert rectify.json() == {"properties": {"email": NEW_EMAIL, "phone": NEW_PHONE}}
    assert restrict.json() == {"properties": {"cm_processing_restricted": "true"}}
    assert hubspot.contacts["51"] == {
        "email": NEW_EMAIL,
        "phone": NEW_PHONE,
        "cm_processing_restricted": "true",
    }
    for request in hubspot.received:  # no subject identifiers, names or our own ids
        text = request.body.decode()
        for value in (SUBJECT_EMAIL, "Jane N", "dsar-r", "dsar-s", "acme-au"):
            assert value not in text


def test_the_webhook_is_signed_and_one_key_covers_every_retry(
    sqlite_warehouse, local_store, webhook
):
    webhook.script = [(500, {}), (502, {})]
    task_id = _task(sqlite_warehouse, recipient="salesforce", refs=("003Dn00000AbCdE",))
    connectors = CrmConnectorsResource(
        webhook_url=webhook.url + "/crm-tasks",
        webhook_secret=SECRET,
        timeout_seconds=TIMEOUT_SECONDS,
        retry_base_seconds=60,
        retry_cap_seconds=600,
    )
    clock = Clock()
    for delay in (0, 60, 120):
        clock.advance(delay)
        deliver_due(sqlite_warehouse, local_store, connectors, clock=clock)
    assert _row(sqlite_warehouse, task_id).status == "confirmed"
    keys = {r.headers["Idempotency-Key"] for r in webhook.received}
    assert len(webhook.received) == 3 and len(keys) == 1
    assert webhook.effects == {keys.pop(): 1}  # acted on once
    body = webhook.received[-1].json()
    assert body["record_ids"] == ["003Dn00000AbCdE"] and body["task"] == "erase"
    assert set(body) == {"event", "task_id", "task", "system", "record_ids", "idempotency_key"}

    # a receiver with another secret refuses the signature: the platform sees 401 and waits
    _task(sqlite_warehouse, recipient="salesforce", request="dsar-9")
    wrong = connectors.model_copy(update={"webhook_secret": "not-the-secret"})
    report = deliver_due(sqlite_warehouse, local_store, wrong, clock=clock)
    assert report.outcomes == {"auth_failure": 1}


def test_nothing_personal_is_recorded_about_attempts(sqlite_warehouse, local_store, hubspot):
    hubspot.contacts = {}
    hubspot.script = [(429, {"Retry-After": "5"})]
    task_id = _task(sqlite_warehouse, refs=("51",))
    deliver_due(sqlite_warehouse, local_store, _hubspot(hubspot), clock=Clock())
    row = _row(sqlite_warehouse, task_id)._asdict()
    recorded = {k: v for k, v in row.items() if k != "record_refs"}
    assert "51" not in json.dumps(recorded, default=str).replace(str(task_id), "")
    assert retries.is_due(row["next_attempt_at"], T0 + timedelta(seconds=60))


def test_a_task_withdrawn_while_in_flight_is_left_as_it_is(
    sqlite_warehouse, local_store, hubspot, monkeypatch
):
    """A lifted restriction withdraws a pending task while its request is on the wire: the
    answer is not recorded over the withdrawal, and nothing is audited as confirmed."""
    hubspot.contacts = {"51": {}}
    task_id = _task(sqlite_warehouse, kind="restrict", refs=("51",))
    connectors = _hubspot(hubspot)
    send = CrmConnectorsResource.send

    def withdraw_then_send(self, connector, planned):
        with sqlite_warehouse.begin() as connection:
            connection.execute(
                sa.update(dsar_erasure_outbox)
                .where(dsar_erasure_outbox.c.id == task_id)
                .values(status="withdrawn")
            )
        return send(self, connector, planned)

    monkeypatch.setattr(CrmConnectorsResource, "send", withdraw_then_send)
    report = deliver_due(sqlite_warehouse, local_store, connectors, clock=Clock())
    assert report.outcomes == {"no_longer_pending": 1}
    assert _row(sqlite_warehouse, task_id).status == "withdrawn"
    assert not [e for e in _audit(sqlite_warehouse) if e.action.startswith("dsar.crm_task")]


def test_on_postgresql_claims_backoff_and_confirmation_behave_the_same(
    postgres_warehouse, local_store, hubspot
):
    hubspot.contacts = {"51": {}}
    hubspot.script = [(503, {}), (429, {"Retry-After": "300"})]
    path = _certificate(postgres_warehouse, local_store)
    task_id = _task(postgres_warehouse, refs=("51",))
    clock, connectors = Clock(), _hubspot(hubspot)
    with postgres_warehouse.connect() as connection:
        [due] = outbox.due_tasks(connection, clock())
    for delay, outcome in ((0, "retry"), (60, "retry_after"), (300, "done")):
        clock.advance(delay)
        report = deliver_due(postgres_warehouse, local_store, connectors, clock=clock)
        assert report.outcomes == {outcome: 1}
    row = _row(postgres_warehouse, task_id)
    assert (row.status, row.attempts, row.idempotency_key) == (
        "confirmed",
        3,
        idempotency_key(due.task),
    )
    certificate = json.loads(local_store.read_bytes(path))
    assert [c["outbox_task"] for c in certificate["downstream_confirmed"]] == [task_id]
    with postgres_warehouse.begin() as connection:  # a stale claim of attempt 1 loses
        assert not outbox.claim(
            connection,
            due,
            now=clock(),
            policy=connectors.policy(),
            idempotency_key="x",
            connector="hubspot",
        )
