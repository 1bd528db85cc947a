from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cm_pipelines.domain.ingestion.ai_outputs import AiOutput, AiOutputFormatError, parse_ai_output
from cm_pipelines.domain.ingestion.crm_links import CrmLink, CrmLinksFormatError, parse_crm_links

SECRET = "Jane Doe asked to move her appointment; call back on 0491570156"


def ai_document(**overrides: Any) -> bytes:
    document: dict[str, Any] = {
        "call_id": "1763630102.421",
        "kind": "summary",
        "model": "cm-summarise-2026-10",
        "created_at": "2026-11-20T09:20:00Z",
        "text": SECRET,
    }
    document.update(overrides)
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()


def test_parses_a_summary() -> None:
    assert parse_ai_output(ai_document()) == AiOutput(
        call_id="1763630102.421",
        kind="summary",
        model="cm-summarise-2026-10",
        created_at=datetime(2026, 11, 20, 9, 20, tzinfo=UTC),
        text=SECRET,
    )


def test_receptionist_note_with_offset_is_converted_to_utc() -> None:
    output = parse_ai_output(
        ai_document(kind="receptionist_note", created_at="2026-11-20T20:20:00+11:00", extra=1)
    )
    assert output.kind == "receptionist_note"
    assert output.created_at == datetime(2026, 11, 20, 9, 20, tzinfo=UTC)
    assert output.created_at.utcoffset() == timedelta(0)


def test_naive_timestamp_is_taken_as_utc() -> None:
    output = parse_ai_output(ai_document(created_at="2026-11-20T09:20:00"))
    assert output.created_at == datetime(2026, 11, 20, 9, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{" + SECRET.encode(), "not_json"),
        (b"\xff", "not_json"),
        (json.dumps([SECRET]).encode(), "not_object"),
        (ai_document(call_id=...), "missing_field"),
        (ai_document(text=None), "missing_field"),
        (ai_document(call_id="  "), "missing_field"),
        (ai_document(text=["a"]), "bad_field_type"),
        (ai_document(created_at=1763630102), "bad_field_type"),
        (ai_document(kind="transcript"), "unknown_kind"),
        (ai_document(created_at="20/11/2026"), "bad_created_at"),
    ],
)
def test_refused_ai_outputs(data: bytes, reason: str) -> None:
    with pytest.raises(AiOutputFormatError) as error:
        parse_ai_output(data)
    assert error.value.reason_code == reason
    assert "0491570156" not in str(error.value) and "Jane" not in str(error.value)


def test_empty_text_is_allowed() -> None:
    assert parse_ai_output(ai_document(text="")).text == ""


HEADER = "call_id,crm_system,crm_record_id,contact_phone,contact_email"


def crm_bytes(*rows: str, header: str = HEADER, newline: str = "\n") -> bytes:
    return newline.join([header, *rows, ""]).encode("utf-8")


def test_crm_links_are_parsed_and_normalised() -> None:
    data = crm_bytes(
        "1763630102.421,hubspot,contact/90125,0491570156,Jane.Doe@Example.com",
        '1763638200.452,salesforce,"003,xyz",+61 3 5550 4567,',
        "1763632964.433,pipedrive,7,,",
    )
    result = parse_crm_links(data, "crm_links.csv", "AU")
    assert result.quarantined == []
    assert result.links == [
        CrmLink(
            "1763630102.421", "hubspot", "contact/90125", "+61491570156", "jane.doe@example.com", 2
        ),
        CrmLink("1763638200.452", "salesforce", "003,xyz", "+61355504567", None, 3),
        CrmLink("1763632964.433", "pipedrive", "7", None, None, 4),
    ]


def test_crm_phone_uses_the_tenant_country() -> None:
    data = crm_bytes("c1,hubspot,1,2125550147,")
    assert parse_crm_links(data, "f", "US").links[0].contact_e164 == "+12125550147"
    assert parse_crm_links(data, "f", "AU").quarantined[0].reason_code == "invalid_phone"


def test_crm_quarantine_reasons_with_line_numbers() -> None:
    rows = [
        "c1,hubspot,1,0491570156,a@example.com",  # 2 ok
        "",  # 3 blank
        "c2,hubspot,1,0491570156",  # 4
        ",hubspot,1,0491570156,",  # 5
        "c3,,  ,,",  # 6
        "c4,hubspot,1,not-a-number,",  # 7
        "c5,hubspot,1,1004,",  # 8 an extension is not a contact number
        "c6,hubspot,1,,jane at example",  # 9
        '"c7",hubspot,"note with',  # 10-11: quoted field spanning lines
        'a line break",0491570156,b@example.com',
        "c8,hubspot,1,,c@example.com,extra",  # 12
        "c9,hubspot,9,,",  # 13 ok
    ]
    result = parse_crm_links(crm_bytes(*rows, newline="\r\n"), "crm.csv", "AU")
    assert [(row.line_number, row.reason_code) for row in result.quarantined] == [
        (4, "wrong_field_count"),
        (5, "missing_field"),
        (6, "missing_field"),
        (7, "invalid_phone"),
        (8, "invalid_phone"),
        (9, "invalid_email"),
        (12, "wrong_field_count"),
    ]
    assert [(link.call_id, link.source_line) for link in result.links] == [
        ("c1", 2),
        ("c7", 10),
        ("c9", 13),
    ]
    assert result.links[1].crm_record_id == "note with\r\na line break"
    by_line = {row.line_number: row for row in result.quarantined}
    assert by_line[6].detail == "crm_system, crm_record_id is empty"
    assert by_line[4].raw_record == rows[2]
    for row in result.quarantined:
        assert row.source_file == "crm.csv"
        assert "0491570156" not in row.detail and "jane" not in row.detail


def test_crm_header_in_any_order_and_bom() -> None:
    header = "contact_email,call_id,crm_system,crm_record_id,contact_phone"
    data = b"\xef\xbb\xbf" + crm_bytes("x@example.com,c1,hubspot,9,0491570156", header=header)
    [link] = parse_crm_links(data, "f", "AU").links
    assert (link.call_id, link.contact_email, link.contact_e164) == (
        "c1",
        "x@example.com",
        "+61491570156",
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "bad_header"),
        (crm_bytes(header="call_id,crm,record"), "bad_header"),
        (crm_bytes(header=HEADER + ",notes"), "bad_header"),
        (b"call_id,crm_system\xff", "bad_encoding"),
    ],
)
def test_crm_unreadable_files(data: bytes, reason: str) -> None:
    with pytest.raises(CrmLinksFormatError) as error:
        parse_crm_links(data, "f", "AU")
    assert error.value.reason_code == reason


def test_crm_contact_phones_normalised_as_a_column_match_the_per_row_parse() -> None:
    """The file's phones go through the column path once: every link and every refusal is what
    parsing that row's phone on its own answered."""
    import random

    from cm_pipelines.domain.phone_numbers import parse_party_uncached

    rnd = random.Random(12)
    heads = ["0", "04", "+61 4", "+1 212", "02", "1", "+44 20", "", "(02) ", "00"]
    phones = [
        rnd.choice(heads) + "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 10)))
        for _ in range(600)
    ]
    rows = [f"{1763630000 + i}.1,hubspot,contact/{i},{phone}," for i, phone in enumerate(phones)]
    result = parse_crm_links(crm_bytes(*rows), "crm.csv", "AU")
    links = {link.crm_record_id: link.contact_e164 for link in result.links}
    refused = {row.line_number for row in result.quarantined if row.reason_code == "invalid_phone"}
    for index, phone in enumerate(phones):
        party = parse_party_uncached(phone.strip(), "AU") if phone.strip() else None
        if party is not None and party.kind != "e164":
            assert index + 2 in refused, index
        else:
            assert links[f"contact/{index}"] == (party.e164 if party else None), index
    assert links and refused
