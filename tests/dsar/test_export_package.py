"""The access package: masked for the other data subject, manifest hashes that match, a cover
page with the Art. 15(1) facts, and an AES-256 ZIP that only its passphrase opens."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime

import pytest

from cm_pipelines.domain.dsar.cover_page import Disclosure, cover_page
from cm_pipelines.domain.dsar.export_package import (
    MANIFEST,
    NameScope,
    PackageContent,
    PackageError,
    PackageFile,
    build_package,
    category_csv,
    decrypt_package,
    encrypt_package,
    key_from_text,
    key_to_text,
    mask_call_row,
    mask_segments,
    mask_text,
    verify_package,
)

SUBJECT = frozenset({"+61491570156"})
SUBJECT_EMAILS = frozenset({"jane.doe@example.com"})
OTHER = "+61412345678"


def _call(src: str | None, dst: str | None, name: str | None = "Doe, J") -> dict:
    return {
        "call_id": "1763630102.421",
        "call_date": date(2026, 11, 20),
        "started_at": datetime(2026, 11, 20, 9, 0),
        "answered_at": None,
        "ended_at": datetime(2026, 11, 20, 9, 3),
        "duration_s": 180,
        "billsec_s": 170,
        "disposition": "ANSWERED",
        "direction": "inbound",
        "src_e164": src,
        "dst_e164": dst,
        "src_extension": None,
        "dst_extension": "1004" if dst is None else None,
        "caller_name": name,
        "campaign_id": None,
        "channel": "PJSIP/trunk-000001",
    }


def test_call_rows_keep_the_subject_and_mask_the_other_party() -> None:
    as_caller = mask_call_row(_call("+61491570156", OTHER), SUBJECT)
    assert as_caller["caller_number"] == "+61491570156"
    assert as_caller["callee_number"] == "+61******678"
    assert as_caller["caller_name"] == "Doe, J"
    assert as_caller["subject_role"] == "caller"
    assert "channel" not in as_caller  # PBX internals are not exported

    as_callee = mask_call_row(_call(OTHER, "+61491570156", "Smith, K"), SUBJECT)
    assert as_callee["caller_number"] == "+61******678"
    assert as_callee["caller_name"] == "[name]"  # the other party's caller-id name
    assert as_callee["subject_role"] == "callee"

    to_extension = mask_call_row(_call("+61491570156", None), SUBJECT)
    assert to_extension["callee_number"] == "1004"


def test_transcript_text_masks_other_people_but_keeps_the_subject() -> None:
    text = (
        "My number is oh four nine one five seven oh one five six, email jane.doe@example.com. "
        "You can also call my partner on 0412 345 678 or kim.lee@example.org."
    )
    masked = mask_text(text, "AU", SUBJECT, SUBJECT_EMAILS)
    assert "oh four nine one five seven oh one five six" in masked
    assert "jane.doe@example.com" in masked
    assert "0412 345 678" not in masked and "kim.lee@example.org" not in masked
    assert "[phone]" in masked and "[email]" in masked
    segments = mask_segments(
        [{"speaker": "spk_1", "text": "call 0412 345 678"}], "AU", SUBJECT, SUBJECT_EMAILS
    )
    assert segments == [{"speaker": "spk_1", "text": "call [phone]"}]


def _content() -> PackageContent:
    return PackageContent(
        request_id="dsar-0123456789abcdef0123",
        tenant_id="acme-au",
        request_type="access",
        generated_at=datetime(2026, 12, 1, tzinfo=UTC),
        categories={
            "calls": [mask_call_row(_call("+61491570156", OTHER), SUBJECT)],
            "crm_links": [
                {"crm_system": "hubspot", "crm_record_id": "contact/1", "extra": {"a": 1}},
                {"crm_system": "zoho", "crm_record_id": "contact/2", "note": "x,y"},
            ],
            "consents": [],
        },
        files=[
            PackageFile("recordings/1763630102.421.wav", b"RIFF....WAVE"),
            PackageFile("transcripts/1763630102.421.txt", b"hello"),
        ],
    )


def test_manifest_lists_categories_counts_and_the_hash_of_every_file() -> None:
    built = build_package(_content())
    manifest = verify_package(built.data)
    assert manifest == built.manifest
    assert manifest["categories"]["calls"]["count"] == 1
    assert manifest["categories"]["crm_links"]["count"] == 2
    assert manifest["categories"]["consents"]["count"] == 0
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        names = set(archive.namelist())
        assert {"data/calls.csv", "data/calls.json", "data/crm_links.csv", MANIFEST} <= names
        assert {entry["path"] for entry in manifest["files"]} == names - {MANIFEST}
        rows = list(csv.DictReader(io.StringIO(archive.read("data/crm_links.csv").decode())))
        assert rows[0]["extra"] == '{"a": 1}' and rows[1]["note"] == "x,y" and rows[0]["note"] == ""
        calls = json.loads(archive.read("data/calls.json"))
        assert calls[0]["callee_number"] == "+61******678"
    assert build_package(_content()).data == built.data  # deterministic


def test_a_tampered_package_fails_its_manifest() -> None:
    built = build_package(_content())
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(built.data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "transcripts/1763630102.421.txt":
                data = b"HELLO"
            target.writestr(info, data)
    with pytest.raises(PackageError, match="does not match its manifest"):
        verify_package(buffer.getvalue())
    with pytest.raises(PackageError, match="not a zip"):
        verify_package(b"nope")


def test_the_package_decrypts_with_its_key_only() -> None:
    built = build_package(_content())
    sealed = encrypt_package(built.data, "dsar-0123456789abcdef0123")
    assert built.data not in sealed.data and b'"format"' not in sealed.data
    assert b"RIFF....WAVE" not in sealed.data and b"contact/2" not in sealed.data
    request_id, plain = decrypt_package(sealed.data, key_from_text(key_to_text(sealed.key)))
    assert request_id == "dsar-0123456789abcdef0123" and plain == built.data
    verify_package(plain)
    with pytest.raises(PackageError, match="does not open"):
        decrypt_package(sealed.data, bytes(32))
    with zipfile.ZipFile(io.BytesIO(sealed.data)) as archive:  # every member is encrypted
        infos = archive.infolist()
        assert infos and all(info.flag_bits & 0x1 for info in infos)
        offset = max(info.header_offset for info in infos)  # inside the last member's data
    altered = bytearray(sealed.data)
    altered[offset + 80] ^= 1
    with pytest.raises(PackageError, match="does not open"):
        decrypt_package(bytes(altered), sealed.key)
    relabelled = sealed.data.replace(b"dsar-0123456789abcdef0123", b"dsar-ffffffffffffffffffff")
    with pytest.raises(PackageError, match="does not match its manifest"):
        decrypt_package(relabelled, sealed.key)
    assert encrypt_package(built.data, "x").key != sealed.key  # a fresh key per package


def test_keys_and_paths_are_checked() -> None:
    with pytest.raises(PackageError, match="64 hexadecimal"):
        key_from_text("abc")
    with pytest.raises(PackageError, match="32 bytes"):
        encrypt_package(b"zip", "dsar-1", key=b"short")
    content = _content()
    content.files.append(PackageFile("../escape.txt", b""))
    with pytest.raises(PackageError, match="relative"):
        build_package(content)


def test_category_csv_of_no_rows_is_empty_header() -> None:
    assert category_csv([]) == b"\n"


def test_times_are_exported_to_the_second() -> None:
    from cm_pipelines.domain.dsar.export_package import category_json

    rows = json.loads(category_json([{"at": datetime(2026, 1, 2, 3, 4, 5, 136480, tzinfo=UTC)}]))
    assert rows == [{"at": "2026-01-02T03:04:05+00:00"}]
    assert b"136480" not in category_csv([{"at": datetime(2026, 1, 2, 3, 4, 5, 136480)}])


def _disclosure(**overrides) -> Disclosure:
    fields = {
        "controller": "Beta <Solar> & Sons",
        "request_id": "dsar-0123456789abcdef0123",
        "request_type": "access",
        "jurisdiction": "ccpa",
        "generated_at": "2026-11-20 09:00 UTC",
        "expires_at": "2026-12-20",
        "categories": {"calls": 3, "crm_links": 1},
        "crm_systems": ["hubspot"],
        "registries": ["us_ftc"],
        "retention_days": {"call_logs": 1095, "recordings": 60},
    }
    return Disclosure(**{**fields, **overrides})


def test_the_cover_page_states_article_15_facts_escaped_and_per_jurisdiction() -> None:
    page = cover_page(_disclosure()).decode()
    assert "Beta &lt;Solar&gt; &amp; Sons" in page and "<Solar>" not in page
    assert "California Privacy Protection Agency" in page
    assert "hubspot" in page and "us_ftc" in page and "1095 days" in page
    assert "<td>Call records</td><td>3</td>" in page and "2026-12-20" in page
    assert "Information Commissioner" in cover_page(_disclosure(jurisdiction="gdpr")).decode()
    assert "oaic.gov.au" in cover_page(_disclosure(jurisdiction="au")).decode()


def test_a_package_with_a_disclosure_has_its_cover_page_and_a_truthful_readme() -> None:
    content = _content()
    content.disclosure = _disclosure()
    built = build_package(content)
    manifest = verify_package(built.data)
    assert "index.html" in {entry["path"] for entry in manifest["files"]}
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        readme = archive.read("README.txt").decode()
    assert "Not masked:" in readme and "names of other people ([name])" in readme
    assert "name finder is automatic and can miss a name" in readme


def test_free_text_masks_other_peoples_names_and_counts_them() -> None:
    names = NameScope(known=frozenset({"Smith, K"}), subject=frozenset({"Doe, J"}))
    text = "It's Jane Doe. Please add my partner Zara Smith; Smith will call. I think Xandor knows."
    masked = mask_text(text, "AU", SUBJECT, SUBJECT_EMAILS, names, "transcripts/c1.txt")
    assert masked == (
        "It's Jane Doe. Please add my partner [name]; [name] will call. I think [name] knows."
    )
    assert names.report() == {
        "texts": 1,
        "names_certain": 2,
        "names_unsure": 1,
        "texts_with_unsure": 1,
        "unsure_at": {"transcripts/c1.txt": [masked.index("[name] knows")]},
    }
    segments = mask_segments(
        [{"text": "zara.smith@example.org, ask for Mr Tan"}], "AU", SUBJECT, SUBJECT_EMAILS, names
    )
    assert segments == [{"text": "[email], ask for [name]"}]
