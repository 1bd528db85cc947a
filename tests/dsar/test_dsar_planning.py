"""Planning per request type, erasure exemptions (legal holds and legal obligations, each with
its basis), verification after erasure and the certificate."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from cm_pipelines.domain.dsar.clock import evidence_dates
from cm_pipelines.domain.dsar.planning import (
    AI_OUTPUTS,
    BASIS_BLOCKED,
    BASIS_CONSENT,
    BASIS_SUPPRESSION,
    BLANK_LINE,
    BLOCKED_CALLS,
    CALLS,
    CDR_SOURCE_LINES,
    CONSENTS,
    CRM_LINKS,
    DELETE,
    EXPORT,
    MARK_RESTRICTED,
    MATCH_CRM,
    MATCH_LINKED,
    MATCH_NUMBER,
    MATCH_PARTY,
    MATCH_TEXT,
    PSEUDONYMISE,
    RECORDINGS,
    RECTIFY,
    REDACT,
    RETAIN,
    RETAIN_MINIMISED,
    REVOKE,
    SUPPRESS,
    SUPPRESSION,
    TRANSCRIPTS,
    WASH_RESULTS,
    LocatedItem,
    PlanningError,
    Subject,
    dedupe,
    dnc_record_basis,
    erasure_certificate,
    exemption_summary,
    located_counts,
    plan_objection,
    plan_request,
    verify_erasure,
)
from cm_pipelines.domain.keyed_hash import keyed_hash

KEY = b"k" * 32
TENANT = "acme-au"
ME = "+61491570156"
OTHER = "+61412345678"
EMAIL = "jane.doe@example.com"
DAY = date(2026, 11, 20)


def hash_number(value: str) -> str:
    return keyed_hash(value, KEY)


def _items() -> list[LocatedItem]:
    def call_items(call_id: str) -> list[LocatedItem]:
        common = {"call_id": call_id, "record_date": DAY, "party_e164s": (ME, OTHER)}
        return [
            LocatedItem(CALLS, call_id, MATCH_PARTY, **common),
            LocatedItem(
                CDR_SOURCE_LINES,
                f"landing/cdr/{TENANT}/x/Master.csv#{call_id[-1]}",
                MATCH_PARTY,
                **common,
            ),
            LocatedItem(RECORDINGS, call_id, MATCH_LINKED, **common),
            LocatedItem(TRANSCRIPTS, call_id, MATCH_LINKED, **common),
            LocatedItem(AI_OUTPUTS, f"{call_id}/summary", MATCH_LINKED, **common),
        ]

    return [
        *call_items("100.1"),
        *call_items("100.2"),
        LocatedItem(CRM_LINKS, "7", MATCH_CRM, "100.2", DAY, (ME,), (EMAIL,), recipient="hubspot"),
        LocatedItem(TRANSCRIPTS, "200.9", MATCH_TEXT, "200.9", DAY, (OTHER,)),
        LocatedItem(CONSENTS, "3", MATCH_NUMBER, None, DAY, (ME,), e164_hash=hash_number(ME)),
        LocatedItem(WASH_RESULTS, "4", MATCH_NUMBER, None, DAY, (ME,), e164_hash=hash_number(ME)),
        LocatedItem(BLOCKED_CALLS, "5", MATCH_NUMBER, None, DAY, (), e164_hash=hash_number(ME)),
        LocatedItem(SUPPRESSION, "6", MATCH_NUMBER, None, DAY, (ME,), e164_hash=hash_number(ME)),
    ]


def _hold(hold_id: str, scope: str, **target) -> dict:
    return {
        "hold_id": hold_id,
        "tenant_id": TENANT,
        "scope": scope,
        "call_id": None,
        "e164": None,
        "email": None,
        "from_date": None,
        "to_date": None,
        "released_at": None,
        **target,
    }


def _by_key(plan):
    return {action.key: action for action in plan}


def test_erasure_without_holds_deletes_pseudonymises_and_keeps_legal_obligation_records() -> None:
    plan = _by_key(plan_request("erasure", _items(), tenant_id=TENANT, hash_number=hash_number))
    assert plan[(CALLS, "100.1")].action == PSEUDONYMISE
    assert plan[(RECORDINGS, "100.1")].action == DELETE
    assert plan[(AI_OUTPUTS, "100.2/summary")].action == DELETE
    assert plan[(TRANSCRIPTS, "200.9")].action == REDACT  # another call that mentions the subject
    assert plan[(CRM_LINKS, "7")].action == DELETE and plan[(CRM_LINKS, "7")].recipient == "hubspot"
    assert plan[(WASH_RESULTS, "4")].action == DELETE
    assert plan[(CDR_SOURCE_LINES, f"landing/cdr/{TENANT}/x/Master.csv#1")].action == BLANK_LINE
    assert (plan[(CONSENTS, "3")].action, plan[(CONSENTS, "3")].basis) == (
        RETAIN_MINIMISED,
        BASIS_CONSENT,
    )
    assert (plan[(BLOCKED_CALLS, "5")].action, plan[(BLOCKED_CALLS, "5")].basis) == (
        RETAIN,
        BASIS_BLOCKED,
    )
    assert plan[(SUPPRESSION, "6")].basis == BASIS_SUPPRESSION
    assert all(action.basis is None for action in plan.values() if not action.exempt)


def test_under_a_do_not_call_evidence_floor_wash_results_are_kept_minimised_with_the_rule() -> None:
    rule = "Telemarketing Sales Rule 16 CFR 310.5 (2024): do-not-call compliance records 5 years"
    plan = _by_key(
        plan_request("erasure", _items(), tenant_id=TENANT, hash_number=hash_number, dnc_rule=rule)
    )
    basis = dnc_record_basis(rule)
    assert "16 CFR 310.5" in basis and ME not in basis
    assert (plan[(WASH_RESULTS, "4")].action, plan[(WASH_RESULTS, "4")].basis) == (
        RETAIN_MINIMISED,
        basis,
    )
    assert (plan[(BLOCKED_CALLS, "5")].action, plan[(BLOCKED_CALLS, "5")].basis) == (
        RETAIN,
        basis,
    )
    # Everything else is planned as without a floor.
    assert plan[(RECORDINGS, "100.1")].action == DELETE
    assert plan[(CONSENTS, "3")].basis == BASIS_CONSENT
    summary = {
        (row["store"], row["basis"]): row["count"] for row in exemption_summary(plan.values())
    }
    assert summary[(WASH_RESULTS, basis)] == 1 and summary[(BLOCKED_CALLS, basis)] == 1


def test_a_hold_on_a_wash_result_wins_over_the_evidence_floor_basis() -> None:
    hold = _hold("H-9", "phone", e164=ME)
    plan = _by_key(
        plan_request(
            "erasure",
            _items(),
            holds=[hold],
            tenant_id=TENANT,
            hash_number=hash_number,
            dnc_rule="16 CFR 310.5",
        )
    )
    assert (plan[(WASH_RESULTS, "4")].action, plan[(WASH_RESULTS, "4")].basis) == (
        RETAIN,
        "legal hold H-9",
    )


def test_a_call_hold_keeps_the_whole_lineage_of_that_call_only() -> None:
    plan = _by_key(
        plan_request(
            "erasure",
            _items(),
            holds=[_hold("H-1", "call", call_id="100.2")],
            tenant_id=TENANT,
            hash_number=hash_number,
        )
    )
    for store, ref in [
        (CALLS, "100.2"),
        (RECORDINGS, "100.2"),
        (AI_OUTPUTS, "100.2/summary"),
        (CRM_LINKS, "7"),
    ]:
        assert (plan[(store, ref)].action, plan[(store, ref)].basis) == (RETAIN, "legal hold H-1")
    assert plan[(CDR_SOURCE_LINES, f"landing/cdr/{TENANT}/x/Master.csv#2")].action == RETAIN
    assert plan[(CALLS, "100.1")].action == PSEUDONYMISE
    assert plan[(WASH_RESULTS, "4")].action == DELETE  # a call hold does not keep number records


def test_a_phone_hold_keeps_calls_and_number_records_of_that_number() -> None:
    plan = _by_key(
        plan_request(
            "erasure",
            _items(),
            holds=[_hold("H-2", "phone", e164=ME, from_date=date(2026, 1, 1))],
            tenant_id=TENANT,
            hash_number=hash_number,
        )
    )
    assert plan[(CALLS, "100.1")].basis == "legal hold H-2"
    assert plan[(WASH_RESULTS, "4")].basis == "legal hold H-2"
    assert plan[(BLOCKED_CALLS, "5")].basis == "legal hold H-2"  # matched through the keyed hash
    assert plan[(TRANSCRIPTS, "200.9")].action == REDACT  # that call's parties are not held


def test_released_expired_and_other_tenant_holds_keep_nothing() -> None:
    holds = [
        _hold("H-3", "phone", e164=ME, released_at=datetime(2026, 11, 1, tzinfo=UTC)),
        _hold("H-4", "phone", e164=ME, to_date=date(2026, 1, 1)),
        {**_hold("H-5", "phone", e164=ME), "tenant_id": "beta-us"},
    ]
    plan = plan_request("erasure", _items(), holds=holds, tenant_id=TENANT, hash_number=hash_number)
    assert not any((a.basis or "").startswith("legal hold") for a in plan)


def test_an_email_hold_matches_the_crm_contact_and_keeps_its_call() -> None:
    plan = _by_key(
        plan_request(
            "erasure",
            _items(),
            holds=[_hold("H-6", "email", email="JANE.DOE@example.com")],
            tenant_id=TENANT,
            hash_number=hash_number,
        )
    )
    assert plan[(CALLS, "100.2")].basis == "legal hold H-6"
    assert plan[(CALLS, "100.1")].action == PSEUDONYMISE


def test_other_types_plan_the_stores_they_touch() -> None:
    items = _items()
    access = plan_request("access", items, tenant_id=TENANT)
    assert {a.action for a in access} == {EXPORT}
    assert CDR_SOURCE_LINES not in {a.store for a in access}
    portability = {a.store for a in plan_request("portability", items, tenant_id=TENANT)}
    assert AI_OUTPUTS not in portability and CALLS in portability
    restriction = plan_request("restriction", items, tenant_id=TENANT)
    assert {a.store for a in restriction} == {CALLS, CRM_LINKS, CONSENTS, WASH_RESULTS}
    assert {a.action for a in restriction} == {MARK_RESTRICTED}
    rectify = plan_request("rectification", items, tenant_id=TENANT, rectify_fields=["email"])
    assert [(a.store, a.action) for a in rectify] == [(CRM_LINKS, RECTIFY)]
    renamed = plan_request("rectification", items, tenant_id=TENANT, rectify_fields=["caller_name"])
    assert {a.store for a in renamed} == {CALLS}
    withdraw = plan_request("withdraw_consent", items, tenant_id=TENANT)
    assert [(a.store, a.ref, a.action) for a in withdraw] == [(CONSENTS, "3", REVOKE)]
    with pytest.raises(PlanningError):
        plan_request("forget_me", items, tenant_id=TENANT)
    with pytest.raises(PlanningError, match="keyed hash"):
        plan_request("erasure", items, tenant_id=TENANT)


def test_objection_suppresses_every_subject_number_by_hash() -> None:
    subject = Subject(
        TENANT,
        "AU",
        frozenset({ME, OTHER}),
        frozenset({EMAIL}),
        phone_hashes={ME: hash_number(ME), OTHER: hash_number(OTHER)},
    )
    plan = plan_objection(subject)
    assert [(a.store, a.ref, a.action) for a in plan] == [
        (SUPPRESSION, hash_number(OTHER), SUPPRESS),  # numbers in sorted order
        (SUPPRESSION, hash_number(ME), SUPPRESS),
    ]
    assert subject.hashes == {hash_number(ME), hash_number(OTHER)}


def test_dedupe_prefers_the_direct_match() -> None:
    items = [
        LocatedItem(TRANSCRIPTS, "1.1", MATCH_TEXT, "1.1"),
        LocatedItem(TRANSCRIPTS, "1.1", MATCH_LINKED, "1.1"),
    ]
    assert [item.match for item in dedupe(items)] == [MATCH_LINKED]
    assert located_counts(items)[TRANSCRIPTS] == 2


def test_verification_accepts_only_exempted_leftovers_and_confirmed_checks() -> None:
    items = _items()
    plan = plan_request(
        "erasure",
        items,
        holds=[_hold("H-1", "call", call_id="100.2")],
        tenant_id=TENANT,
        hash_number=hash_number,
    )
    exempted_left = [i for i in items if i.key in {a.key for a in plan if a.exempt}]
    assert verify_erasure(plan, exempted_left).passed
    leftover = verify_erasure(
        plan, [*exempted_left, LocatedItem(RECORDINGS, "100.1", MATCH_LINKED)]
    )
    assert not leftover.passed and leftover.unexpected_by_store == {RECORDINGS: 1}
    unconfirmed = verify_erasure(plan, exempted_left, {RECORDINGS: 1, CALLS: 0})
    assert not unconfirmed.passed and unconfirmed.failed_checks_by_store == {RECORDINGS: 1}


def test_certificate_counts_exemptions_and_carries_no_identifier() -> None:
    items = _items()
    plan = plan_request(
        "erasure",
        items,
        holds=[_hold("H-1", "call", call_id="100.2")],
        tenant_id=TENANT,
        hash_number=hash_number,
    )
    verification = verify_erasure(
        plan, [i for i in items if i.key in {a.key for a in plan if a.exempt}]
    )
    body = erasure_certificate(
        request_id="dsar-0123456789abcdef0123",
        tenant_id=TENANT,
        jurisdiction="au",
        dates=evidence_dates(
            "Australia/Sydney",
            received_on=date(2026, 11, 25),
            due_date=date(2026, 12, 25),
            completed_at=datetime(2026, 11, 28, 1, 0, tzinfo=UTC),
        ),
        identifier_hashes=[hash_number(ME), keyed_hash(EMAIL, KEY)],
        located=located_counts(items),
        plan=plan,
        verification=verification,
        outbox_recipients=["hubspot"],
    )
    text = json.dumps(body)
    for identifier in (ME, OTHER, EMAIL, "491570156"):
        assert identifier not in text
    assert body["verification"]["passed"]
    assert body["actions_by_store"][CALLS] == {PSEUDONYMISE: 1, RETAIN: 1}
    bases = {(row["store"], row["basis"]): row["count"] for row in body["exemptions"]}
    assert bases[(CALLS, "legal hold H-1")] == 1
    assert bases[(BLOCKED_CALLS, BASIS_BLOCKED)] == 1
    assert bases[(CONSENTS, BASIS_CONSENT)] == 1
    assert len(body["body_sha256"]) == 64 and len(body["plan_sha256"]) == 64
    assert body["time_zone"] == "Australia/Sydney"
    assert (body["received_on"], body["completed_on"]) == ("2026-11-25", "2026-11-28")


# ---------------------------------------------------------------- redaction in others' records


def test_redacting_the_subject_keeps_everyone_else() -> None:
    from cm_pipelines.domain.dsar.redaction import redact_subject_text

    text = (
        "Call my partner on oh four nine one five seven oh one five six or "
        "jane dot doe at example dot com; I am on 0412 345 678."
    )
    redacted, count = redact_subject_text(text, "AU", {ME}, {EMAIL})
    assert count == 2
    assert "four nine one" not in redacted and "jane dot doe" not in redacted
    assert "0412 345 678" in redacted  # the caller's own number is not the subject's


def test_vendor_documents_are_redacted_where_their_text_lives() -> None:
    import numpy as np

    from cm_pipelines.domain.dsar.redaction import redact_subject_document
    from cm_pipelines.domain.identifiers import extract_identifiers
    from cm_pipelines.synthetic.formats import aws_transcribe_json, whisper_json

    turns = [
        (0, "Good morning, how can I help?"),
        (1, "Please note my sister's number, oh four nine one five seven oh one five six."),
        (1, "Her email is jane.doe@example.com, mine is kim.lee@example.org."),
    ]
    aws = json.loads(aws_transcribe_json("job", turns, 20.0, np.random.default_rng(1)))
    redacted, count = redact_subject_document(aws, "AU", {ME}, {EMAIL})
    assert count >= 2 and aws != redacted
    words = " ".join(item["alternatives"][0]["content"] for item in redacted["results"]["items"])
    transcript = redacted["results"]["transcripts"][0]["transcript"]
    for text in (words, transcript):
        found = extract_identifiers(text, "AU")
        assert ME not in found.phones and EMAIL not in found.emails
        assert "kim.lee@example.org" in found.emails
    whisper = json.loads(whisper_json(turns, 20.0, np.random.default_rng(2)))
    redacted, _ = redact_subject_document(whisper, "AU", {ME}, {EMAIL})
    assert redacted["segments"][0]["tokens"] == whisper["segments"][0]["tokens"]
    assert redacted["segments"][1]["tokens"] == []  # token ids would spell the number
    assert ME not in extract_identifiers(redacted["text"], "AU").phones
