"""The pure delivery rules: backoff, what a response means, signatures, request shapes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from cm_pipelines.domain.crm_delivery import retries, signing
from cm_pipelines.domain.crm_delivery.certificate import confirmation, with_confirmations
from cm_pipelines.domain.crm_delivery.requests import (
    Task,
    TaskShapeError,
    hubspot_requests,
    idempotency_key,
    webhook_request,
)
from cm_pipelines.domain.dsar import planning

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
POLICY = retries.RetryPolicy(base_seconds=60, factor=2, cap_seconds=600, max_attempts=5)


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [d.total_seconds() for d in retries.schedule(POLICY)] == [60, 120, 240, 480]
    assert retries.backoff_delay(9, POLICY) == timedelta(seconds=600)
    assert retries.backoff_delay(10_000, POLICY) == timedelta(seconds=600)
    with pytest.raises(ValueError):
        retries.backoff_delay(0, POLICY)
    with pytest.raises(ValueError):
        retries.RetryPolicy(base_seconds=60, cap_seconds=30)


@pytest.mark.parametrize("status", [200, 201, 204])
def test_a_2xx_is_done(status: int) -> None:
    decision = retries.decide(retries.Response(status), 1, NOW, POLICY)
    assert (decision.outcome, decision.next_attempt_at) == (retries.DONE, None)


def test_a_404_is_done_only_where_absence_is_the_goal() -> None:
    gone = retries.decide(retries.Response(404), 1, NOW, POLICY, absent_is_done=True)
    assert gone.outcome == retries.DONE
    missing = retries.decide(retries.Response(404), 1, NOW, POLICY)
    assert (missing.outcome, missing.reason) == (retries.DEAD_LETTER, "http_404")


@pytest.mark.parametrize(
    "response",
    [
        retries.Response(500),
        retries.Response(503),
        retries.Response(None, error="timeout"),
        retries.Response(408),
    ],
)
def test_server_errors_and_timeouts_retry_after_the_backoff(response) -> None:
    first = retries.decide(response, 1, NOW, POLICY)
    third = retries.decide(response, 3, NOW, POLICY)
    assert first.outcome == third.outcome == retries.RETRY
    assert first.next_attempt_at == NOW + timedelta(seconds=60)
    assert third.next_attempt_at == NOW + timedelta(seconds=240)
    assert first.counts_as_attempt


def test_the_ceiling_dead_letters() -> None:
    last = retries.decide(retries.Response(502), POLICY.max_attempts, NOW, POLICY)
    assert last.outcome == retries.DEAD_LETTER and last.next_attempt_at is None
    assert last.reason == "http_502_after_5_attempts"
    timeout = retries.decide(retries.Response(None, error="timeout"), 5, NOW, POLICY)
    assert timeout.reason == "timeout_after_5_attempts"


def test_429_waits_for_retry_after_but_never_less_than_the_backoff() -> None:
    longer = retries.decide(retries.Response(429, "900"), 1, NOW, POLICY)
    assert longer.outcome == retries.RETRY_AFTER
    assert longer.next_attempt_at == NOW + timedelta(seconds=900)
    shorter = retries.decide(retries.Response(429, "5"), 2, NOW, POLICY)
    assert shorter.next_attempt_at == NOW + timedelta(seconds=120)
    dated = retries.decide(retries.Response(429, "Thu, 03 Dec 2026 13:00:00 GMT"), 1, NOW, POLICY)
    assert dated.next_attempt_at == NOW + timedelta(hours=1)
    unreadable = retries.decide(retries.Response(429, "soon"), 1, NOW, POLICY)
    assert (unreadable.outcome, unreadable.next_attempt_at) == (
        retries.RETRY,
        NOW + timedelta(seconds=60),
    )
    assert retries.decide(retries.Response(429, "1"), 5, NOW, POLICY).outcome == (
        retries.DEAD_LETTER
    )


@pytest.mark.parametrize("status", [401, 403])
def test_bad_credentials_do_not_charge_the_task(status: int) -> None:
    decision = retries.decide(retries.Response(status), 5, NOW, POLICY)
    assert decision.outcome == retries.AUTH_FAILURE and not decision.counts_as_attempt
    assert decision.next_attempt_at == NOW + timedelta(seconds=600)


@pytest.mark.parametrize("status", [400, 409, 422])
def test_a_refused_request_dead_letters_at_once(status: int) -> None:
    assert retries.decide(retries.Response(status), 1, NOW, POLICY).outcome == (retries.DEAD_LETTER)


def test_due_tasks() -> None:
    assert retries.is_due(None, NOW)
    assert retries.is_due(NOW.replace(tzinfo=None), NOW)  # SQLite: naive UTC
    assert not retries.is_due(NOW + timedelta(seconds=1), NOW)


def test_signatures_verify_and_refuse_tampering_and_replays() -> None:
    secret, body = b"s3cret", b'{"task": "erase"}'
    header = signing.signature_header(secret, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert signing.verify(secret, header, body, now=1_700_000_100) == 1_700_000_000
    for bad_secret, bad_body, now, bad_header in [
        (b"other", body, 1_700_000_000, header),
        (secret, body + b" ", 1_700_000_000, header),
        (secret, body, 1_700_000_000 + 301, header),
        (secret, body, 1_700_000_000, "v1=abc"),
        (secret, body, 1_700_000_000, None),
    ]:
        with pytest.raises(signing.SignatureError):
            signing.verify(bad_secret, bad_header, bad_body, now=now)
    with pytest.raises(signing.SignatureError):
        signing.signature(b"", 1, body)


def _task(kind: str, **changes) -> Task:
    values = dict(
        task_id=7,
        request_id="dsar-1",
        tenant_id="acme-au",
        recipient="hubspot",
        kind=kind,
        record_ids=("902", "51"),
    )
    values.update(changes)
    return Task(**values)


def test_hubspot_erasure_is_one_gdpr_delete_per_contact_naming_only_its_id() -> None:
    planned = hubspot_requests(_task("erase"))
    assert [(r.method, r.path, r.body) for r in planned] == [
        ("POST", "/crm/v3/objects/contacts/gdpr-delete", {"objectId": "51"}),
        ("POST", "/crm/v3/objects/contacts/gdpr-delete", {"objectId": "902"}),
    ]
    key = idempotency_key(_task("erase"))
    assert [r.idempotency_key for r in planned] == [f"{key}-0", f"{key}-1"]
    assert hubspot_requests(_task("erase")) == planned  # stable across attempts


def test_hubspot_rectify_and_restrict_patch_the_contact() -> None:
    corrections = {"email": "new@example.org", "e164": "+61491570157", "caller_name": "N"}
    [first, _] = hubspot_requests(_task("rectify", corrections=corrections))
    assert (first.method, first.path) == ("PATCH", "/crm/v3/objects/contacts/51")
    assert first.body == {"properties": {"email": "new@example.org", "phone": "+61491570157"}}
    [restrict, _] = hubspot_requests(_task("restrict"), restrict_property="gdpr_restricted")
    assert restrict.body == {"properties": {"gdpr_restricted": "true"}}
    with pytest.raises(TaskShapeError):
        hubspot_requests(_task("rectify", corrections={"caller_name": "N"}))
    with pytest.raises(TaskShapeError):
        hubspot_requests(_task("erase", record_ids=()))
    with pytest.raises(TaskShapeError):
        hubspot_requests(_task("merge"))


def test_the_webhook_sends_one_request_per_task_with_its_key() -> None:
    planned = webhook_request(_task("erase"))
    assert planned.body == {
        "event": "cm.dsar.crm_task/1",
        "task_id": 7,
        "task": "erase",
        "system": "hubspot",
        "record_ids": ["51", "902"],
        "idempotency_key": idempotency_key(_task("erase")),
    }
    assert idempotency_key(_task("erase")) != idempotency_key(_task("erase", task_id=8))
    rectify = webhook_request(_task("rectify", corrections={"email": "new@example.org"}))
    assert rectify.body["corrections"] == {"email": "new@example.org"}


def test_confirmations_are_listed_on_the_certificate_and_resealed() -> None:
    body = planning.erasure_certificate(
        request_id="dsar-1",
        tenant_id="acme-au",
        jurisdiction="AU",
        dates={
            "time_zone": "Australia/Sydney",
            "received_on": NOW.date().isoformat(),
            "completed_on": NOW.date().isoformat(),
        },
        identifier_hashes=["h1"],
        located={},
        plan=[],
        verification=planning.ErasureVerification({}, {}, {}),
        outbox_recipients=["hubspot", "salesforce"],
    )
    first = with_confirmations(body, [confirmation("hubspot", "erase", "2026-12-03", 4)])
    assert first["downstream_confirmed"] == [
        {"recipient": "hubspot", "task": "erase", "confirmed_on": "2026-12-03", "outbox_task": 4}
    ]
    assert first["body_sha256"] != body["body_sha256"]
    # the seal is the one planning computes: over the body without the seal
    resealed = {k: v for k, v in first.items() if k != "body_sha256"}
    assert (
        first["body_sha256"]
        == hashlib.sha256(json.dumps(resealed, sort_keys=True).encode()).hexdigest()
    )
    both = with_confirmations(first, [confirmation("salesforce", "erase", "2026-12-04", 5)])
    assert [c["recipient"] for c in both["downstream_confirmed"]] == ["hubspot", "salesforce"]
    again = with_confirmations(both, [confirmation("salesforce", "erase", "2026-12-04", 5)])
    assert again == both  # idempotent
    assert with_confirmations({}, [confirmation("hubspot", "erase", "2026-12-03", 4)]) == {}
