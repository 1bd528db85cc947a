"""The erasure ledger's rules: only keyed hashes are kept, and they still recognise the subject's
numbers, emails, CRM ids and full names in data arriving again."""

from __future__ import annotations

from cm_pipelines.domain.dsar.erased_subjects import (
    CRM_ID,
    EMAIL,
    NAME,
    PHONE,
    ErasedSubjects,
    ledger_entries,
    name_key,
    name_keys,
)
from cm_pipelines.domain.dsar.planning import Subject
from cm_pipelines.domain.dsar.redaction import redact_subject_document, redact_subject_text
from cm_pipelines.domain.keyed_hash import keyed_hash

KEY = b"k" * 32
PHONE_NUMBER = "+61491570156"
EMAIL_ADDRESS = "zara.smith@example.com"


def _ledger() -> ErasedSubjects:
    subject = Subject(
        tenant_id="acme-au",
        country="AU",
        phones=frozenset({PHONE_NUMBER}),
        emails=frozenset({EMAIL_ADDRESS}),
        crm_ids=frozenset({("hubspot", "C-77")}),
        phone_hashes={PHONE_NUMBER: keyed_hash(PHONE_NUMBER, KEY)},
        email_hashes={EMAIL_ADDRESS: keyed_hash(EMAIL_ADDRESS, KEY)},
    )
    entries = ledger_entries(subject, ["Smith, Zara", "Zara"], KEY)
    return ErasedSubjects.from_entries(entries, KEY)


def test_entries_hold_keyed_hashes_only() -> None:
    subject = Subject("t", "AU", frozenset({PHONE_NUMBER}), frozenset({EMAIL_ADDRESS}))
    subject = Subject(
        "t",
        "AU",
        subject.phones,
        subject.emails,
        frozenset({("hubspot", "C-77")}),
        {PHONE_NUMBER: keyed_hash(PHONE_NUMBER, KEY)},
        {EMAIL_ADDRESS: keyed_hash(EMAIL_ADDRESS, KEY)},
    )
    entries = ledger_entries(subject, ["Smith, Zara", "Zara"], KEY)
    assert {e.kind for e in entries} == {PHONE, EMAIL, CRM_ID, NAME}
    text = repr(entries)
    for raw in (PHONE_NUMBER, EMAIL_ADDRESS, "C-77", "Zara", "Smith"):
        assert raw not in text
    names = [e for e in entries if e.kind == NAME]
    assert len(names) == 2 and {e.name_words for e in names} == {2}  # one word is never kept


def test_name_forms() -> None:
    assert name_key("  ZARA   smith ") == "zara smith"
    assert name_key("Zara") is None
    assert name_keys("Smith, Zara") == {"smith zara", "zara smith"}
    assert name_keys("O'Neil-Tan, Mai") == {"o'neil-tan mai", "mai o'neil-tan"}


def test_membership_by_hash() -> None:
    ledger = _ledger()
    assert ledger
    assert ledger.phone_erased(PHONE_NUMBER) and not ledger.phone_erased("+61491570157")
    assert ledger.email_erased("Zara.Smith@Example.com")
    assert ledger.crm_erased("HubSpot", "C-77") and not ledger.crm_erased("salesforce", "C-77")
    assert ledger.name_erased("zara SMITH") and not ledger.name_erased("Zara Tan")
    assert not ErasedSubjects.from_entries([], KEY)


def test_full_names_are_found_as_words_in_a_row_only() -> None:
    ledger = _ledger()
    text = "Hi, it's Zara Smith. Zara, smith-wise? Zara Smithers called; zara  smith again."
    found = [(m.value, m.kind) for m in ledger.name_matches(text)]
    assert found == [("Zara Smith", "name"), ("zara  smith", "name")]


def test_redaction_with_the_ledger_masks_number_email_and_name() -> None:
    ledger = _ledger()
    text = (
        "Please add my partner Zara Smith, on 0491 570 156, email zara.smith@example.com. "
        "Zara Tan called from 0491 570 157."
    )
    redacted, count = redact_subject_text(
        text, "AU", ledger.phones, ledger.emails, ledger.name_matches
    )
    assert count == 3
    assert "Zara Smith" not in redacted and "570 156" not in redacted
    assert "zara.smith@example.com" not in redacted
    assert "Zara Tan" in redacted and "0491 570 157" in redacted
    assert "[name]" in redacted and "[phone]" in redacted and "[email]" in redacted


def test_word_items_of_a_vendor_document_are_masked() -> None:
    ledger = _ledger()
    words = ["my", "partner", "Zara", "Smith", "is", "here"]
    document = {"results": {"items": [{"alternatives": [{"content": w}]} for w in words]}}
    redacted, count = redact_subject_document(
        document, "AU", ledger.phones, ledger.emails, ledger.name_matches
    )
    contents = [item["alternatives"][0]["content"] for item in redacted["results"]["items"]]
    assert count == 1
    assert contents == ["my", "partner", "[name]", "", "is", "here"]
