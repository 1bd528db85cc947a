from __future__ import annotations

import random
from collections.abc import Callable

import pandas as pd
import pytest

from cm_pipelines.domain.ingestion.cdr.csv_parsing import parse_line_by_line
from cm_pipelines.domain.ingestion.cdr.fields import (
    classify_direction,
    parse_caller_name,
    userfield_value,
)
from cm_pipelines.domain.ingestion.cdr.layout import CDR_FIELDS, OUTPUT_COLUMNS, CdrParseResult
from cm_pipelines.domain.ingestion.cdr.naive_reader import read_cdr_csv_naive
from cm_pipelines.domain.ingestion.cdr.reader import read_cdr_csv
from cm_pipelines.domain.tenants import Tenant

TENANTS = {
    "acme-au": Tenant("acme-au", "Acme Dental", "AU", "Australia/Sydney"),
    "beta-us": Tenant("beta-us", "Beta Sales", "US", "America/New_York"),
}
READERS: list[Callable[..., CdrParseResult]] = [read_cdr_csv, read_cdr_csv_naive]
_UNQUOTED = {"duration", "billsec"}


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def cdr_line(**fields: str) -> str:
    """One Master.csv line as Asterisk writes it: strings quoted, durations bare."""
    record = {
        "accountcode": "acme-au",
        "src": "0491570156",
        "dst": "1004",
        "dcontext": "from-pstn",
        "clid": '"Smith, J" <0491570156>',
        "channel": "PJSIP/trunk-au-000001a3",
        "dstchannel": "PJSIP/1004-000001a4",
        "lastapp": "Dial",
        "lastdata": "PJSIP/1004,30,tTr",
        "start": "2026-11-20 09:15:02",
        "answer": "2026-11-20 09:15:09",
        "end": "2026-11-20 09:18:51",
        "duration": "229",
        "billsec": "222",
        "disposition": "ANSWERED",
        "amaflags": "DOCUMENTATION",
        "uniqueid": "1763630102.421",
        "userfield": "",
    }
    unknown = set(fields) - set(record)
    assert not unknown, unknown
    record.update(fields)
    return ",".join(
        record[name] if name in _UNQUOTED else _quote(record[name]) for name in CDR_FIELDS
    )


def build(lines: list[str], newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode("utf-8")


def parse_both(data: bytes) -> CdrParseResult:
    """Parse with both readers, assert they agree, return the fast one's result."""
    fast = read_cdr_csv(data, "landing/cdr/acme-au/2026-11-20/Master.csv", TENANTS)
    naive = read_cdr_csv_naive(data, "landing/cdr/acme-au/2026-11-20/Master.csv", TENANTS)
    pd.testing.assert_frame_equal(fast.calls, naive.calls)
    assert fast.quarantined == naive.quarantined
    return fast


def reasons(result: CdrParseResult) -> list[tuple[int, str]]:
    return [(row.line_number, row.reason_code) for row in result.quarantined]


@pytest.mark.parametrize("reader", READERS)
def test_reads_the_asterisk_shapes(reader) -> None:
    lines = [
        cdr_line(),
        cdr_line(
            src="1004",
            dst="0491570156",
            dcontext="from-internal",
            clid='"Reception" <1004>',
            answer="",
            billsec="0",
            disposition="NO ANSWER",
            uniqueid="1763632964.433",
            userfield="campaign=reactivation-q4",
        ),
        cdr_line(src="1004", dst="1002", dcontext="from-internal", uniqueid="3"),
        cdr_line(
            src="+61 3 5550 4567",
            dst="1001",
            clid='"O"Brien, Mary "Mo"" <+61355504567>',  # Asterisk does not escape names
            uniqueid="4",
            userfield="crm=hubspot:contact/90125",
        ),
        cdr_line(
            accountcode="beta-us",
            src="2125550147",
            dst="18005550199",
            dcontext="outbound",
            clid='"Beta Sales" <2125550147>',
            uniqueid="5",
        ),
        cdr_line(
            accountcode="beta-us",
            src="anonymous",
            dst="2001",
            clid='"Anonymous" <anonymous>',
            uniqueid="6",
        ),
    ]
    result = reader(build(lines), "Master.csv", TENANTS)
    assert result.quarantined == []
    calls = result.calls
    assert list(calls.columns) == list(OUTPUT_COLUMNS)
    assert calls["source_line"].tolist() == [1, 2, 3, 4, 5, 6]
    assert calls["tenant_id"].tolist() == ["acme-au"] * 4 + ["beta-us"] * 2
    assert calls["src_e164"].tolist()[0] == "+61491570156"
    assert calls["src_kind"].tolist() == [
        "e164",
        "extension",
        "extension",
        "e164",
        "e164",
        "anonymous",
    ]
    assert calls["dst_kind"].tolist() == [
        "extension",
        "e164",
        "extension",
        "extension",
        "e164",
        "extension",
    ]
    assert calls.loc[3, "src_e164"] == "+61355504567"
    assert calls.loc[4, "src_e164"] == "+12125550147"
    assert calls.loc[4, "dst_e164"] == "+18005550199"
    assert calls.loc[1, "src_extension"] == "1004"
    assert calls["direction"].tolist() == [
        "inbound",
        "outbound",
        "internal",
        "inbound",
        "outbound",
        "inbound",
    ]
    assert calls.loc[0, "caller_name"] == "Smith, J"
    assert calls.loc[3, "caller_name"] == 'O"Brien, Mary "Mo"'
    assert pd.isna(calls.loc[5, "caller_name"])
    assert pd.isna(calls.loc[1, "answered_at"])
    assert calls.loc[0, "answered_at"] == pd.Timestamp("2026-11-20 09:15:09")
    assert calls.loc[0, "started_at"] == pd.Timestamp("2026-11-20 09:15:02")
    assert calls.loc[0, "ended_at"] == pd.Timestamp("2026-11-20 09:18:51")
    assert calls["started_at"].dt.tz is None
    assert calls.loc[0, "call_date"] == "2026-11-20"
    assert calls["duration_s"].tolist()[:2] == [229, 229]
    assert calls["billsec_s"].tolist()[:2] == [222, 0]
    assert calls.loc[1, "campaign_id"] == "reactivation-q4"
    assert calls.loc[3, "crm_ref"] == "hubspot:contact/90125"
    assert calls["campaign_id"].isna().sum() == 5
    assert calls.loc[0, "call_id"] == "1763630102.421"
    assert (calls["source_file"] == "Master.csv").all()
    assert str(calls["duration_s"].dtype) == "int64"
    assert str(calls["started_at"].dtype) == "datetime64[us]"


@pytest.mark.parametrize("reader", READERS)
def test_numbers_are_read_with_each_tenants_country(reader) -> None:
    lines = [
        cdr_line(accountcode="acme-au", src="2125550147", uniqueid="1"),
        cdr_line(accountcode="beta-us", src="2125550147", uniqueid="1"),
        cdr_line(accountcode="acme-au", src="0491570156", uniqueid="2"),
        cdr_line(accountcode="beta-us", src="0491570156", uniqueid="2"),
    ]
    calls = reader(build(lines), "f", TENANTS).calls
    assert calls["src_kind"].tolist() == ["invalid", "e164", "e164", "invalid"]
    assert calls["src_e164"].tolist()[1:3] == ["+12125550147", "+61491570156"]


@pytest.mark.parametrize("reader", READERS)
def test_quarantine_reasons_and_exact_line_numbers(reader) -> None:
    lines = [
        cdr_line(uniqueid="1", clid='"Lee, "Al", Jr" <0491570156>'),  # 1 ok
        "",  # 2 blank: skipped, still counted
        '"acme-au","0491570156","1004"',  # 3 too few fields
        cdr_line(uniqueid="2") + ',"extra, with comma"',  # 4 too many
        cdr_line(accountcode="nope", uniqueid="3"),  # 5
        cdr_line(uniqueid=""),  # 6
        cdr_line(uniqueid="4", start="2026-02-30 09:00:00"),  # 7 day the month lacks
        cdr_line(uniqueid="5", answer="soon"),  # 8
        cdr_line(uniqueid="6", end="2026-11-20 9:18:51"),  # 9 single-digit hour
        cdr_line(uniqueid="7", duration="-5"),  # 10
        cdr_line(uniqueid="8", billsec="1.5"),  # 11
        cdr_line(uniqueid="1", src="1004"),  # 12 duplicate of line 1
        cdr_line(uniqueid="9", start="2026-11-20 09:15:60"),  # 13 second 60
        cdr_line(uniqueid="10", clid='"Comma, Name, Many" <1004>'),  # 14 ok
        cdr_line(accountcode="beta-us", uniqueid="1", src="2125550147"),  # 15 ok: other tenant
        cdr_line(uniqueid="7", dst="1002"),  # 16 ok: line 10 failed, so not a duplicate
    ]
    result = parse_both(build(lines))
    assert reasons(result) == [
        (3, "wrong_field_count"),
        (4, "wrong_field_count"),
        (5, "unknown_tenant"),
        (6, "missing_uniqueid"),
        (7, "bad_timestamp"),
        (8, "bad_timestamp"),
        (9, "bad_timestamp"),
        (10, "bad_integer"),
        (11, "bad_integer"),
        (12, "duplicate_uniqueid"),
        (13, "bad_timestamp"),
    ]
    assert result.calls["source_line"].tolist() == [1, 14, 15, 16]
    assert result.calls["call_id"].tolist() == ["1", "10", "1", "7"]
    assert result.calls["caller_name"].tolist()[:2] == ['Lee, "Al", Jr', "Comma, Name, Many"]
    by_line = {row.line_number: row for row in result.quarantined}
    assert by_line[3].detail == "expected 18 fields, found 3"
    assert by_line[4].detail == "expected 18 fields, found 19"
    assert "line 1" in by_line[12].detail
    assert "start" in by_line[7].detail and "answer" in by_line[8].detail
    assert "end" in by_line[9].detail and "billsec" in by_line[11].detail
    for row in result.quarantined:
        assert row.raw_record == lines[row.line_number - 1]
        assert row.source_file.endswith("Master.csv")
        for personal in ("0491570156", "Smith", "Lee", "+61"):
            assert personal not in row.detail


def test_line_breaks_inside_fields_quarantine_each_fragment() -> None:
    lines = [
        cdr_line(uniqueid="1"),
        cdr_line(uniqueid="2", clid='"Two\nLines" <1004>'),  # physical lines 2 and 3
        cdr_line(uniqueid="3"),
        cdr_line(uniqueid="4").replace('"DOCUMENTATION"', '"DOCUMENTATION'),  # unterminated
        cdr_line(uniqueid="5"),
    ]
    data = build(lines)
    result = parse_both(data)
    assert reasons(result) == [
        (2, "unbalanced_quotes"),
        (3, "unbalanced_quotes"),
        (5, "unbalanced_quotes"),
    ]
    physical = data.decode().splitlines()
    assert [row.raw_record for row in result.quarantined] == [physical[1], physical[2], physical[4]]
    assert result.calls["call_id"].tolist() == ["1", "3", "5"]
    assert result.calls["source_line"].tolist() == [1, 4, 6]


def test_lines_pyarrow_would_merge_fall_back_to_line_by_line(monkeypatch) -> None:
    """Even quote count but an opening quote mid-line: pyarrow reads on into the next line."""
    fallbacks: list[int] = []
    original = parse_line_by_line

    def spy(*args):
        fallbacks.append(1)
        return original(*args)

    monkeypatch.setattr("cm_pipelines.domain.ingestion.cdr.reader.parse_line_by_line", spy)
    lines = [
        cdr_line(uniqueid="1"),
        '"acme-au",x"y,"opens here,z',
        cdr_line(uniqueid="2"),
        cdr_line(uniqueid="3"),
    ]
    result = parse_both(build(lines))
    assert fallbacks == [1]
    assert reasons(result) == [(2, "wrong_field_count")]
    assert result.calls["source_line"].tolist() == [1, 3, 4]


def test_crlf_bom_and_bad_encoding() -> None:
    lines = [cdr_line(uniqueid="1"), cdr_line(uniqueid="2"), "", cdr_line(uniqueid="3")]
    data = b"\xef\xbb\xbf" + build(lines, newline="\r\n")
    bad = cdr_line(uniqueid="4", clid='"Caf\xe9" <1004>').encode("latin-1")
    data += bad + b"\r\n" + cdr_line(uniqueid="5").encode() + b"\r\n"
    result = parse_both(data)
    assert reasons(result) == [(5, "bad_encoding")]
    assert result.quarantined[0].raw_record == bad.decode("utf-8", errors="backslashreplace")
    assert result.calls["source_line"].tolist() == [1, 2, 4, 6]
    assert result.calls.loc[0, "tenant_id"] == "acme-au"  # the BOM is not part of the field


def test_non_ascii_utf8_is_kept() -> None:
    result = parse_both(build([cdr_line(clid='"Zoë Müller, Café" <1004>')]))
    assert result.calls.loc[0, "caller_name"] == "Zoë Müller, Café"


@pytest.mark.parametrize("reader", READERS)
def test_empty_and_blank_files(reader) -> None:
    for data in (b"", b"\n\n", b"\r\n"):
        result = reader(data, "f", TENANTS)
        assert result.quarantined == []
        assert list(result.calls.columns) == list(OUTPUT_COLUMNS)
        assert len(result.calls) == 0
        assert str(result.calls["started_at"].dtype) == "datetime64[us]"


def test_a_file_where_every_line_is_refused() -> None:
    result = parse_both(build([cdr_line(accountcode="ghost", uniqueid=str(i)) for i in range(3)]))
    assert reasons(result) == [(1, "unknown_tenant"), (2, "unknown_tenant"), (3, "unknown_tenant")]
    assert result.calls.empty


@pytest.mark.parametrize(
    ("clid", "name"),
    [
        ('"Smith, J" <+61355504567>', "Smith, J"),
        ("Reception <1004>", "Reception"),
        ("<0491570156>", None),
        ("0491570156", None),
        ('"0491570156" <0491570156>', None),
        ('"Anonymous" <anonymous>', None),
        ('"" <1004>', None),
        ("", None),
        ("Front Desk", "Front Desk"),
        ('"He said "hi"" <1>', 'He said "hi"'),
    ],
)
def test_parse_caller_name(clid: str, name: str | None) -> None:
    assert parse_caller_name(clid) == name


def test_caller_name_after_csv_unquoting() -> None:
    # Asterisk writes the name unescaped inside the clid; cdr_csv then doubles every quote
    line = cdr_line(clid='"He said "hi"" <1004>')
    assert '"""He said ""hi"""" <1004>"' in line
    calls = parse_both(build([line])).calls
    assert calls.loc[0, "caller_name"] == 'He said "hi"'


def test_userfield_value() -> None:
    assert userfield_value("campaign=reactivation-q4", "campaign") == "reactivation-q4"
    assert userfield_value("crm=hubspot:contact/90125;campaign=x", "campaign") == "x"
    assert userfield_value("crm=hubspot:contact/90125;campaign=x", "crm") == "hubspot:contact/90125"
    assert userfield_value("xcampaign=y", "campaign") is None
    assert userfield_value("campaign=", "campaign") is None
    assert userfield_value("", "crm") is None


@pytest.mark.parametrize(
    ("src", "dst", "context", "direction"),
    [
        ("extension", "extension", "from-internal", "internal"),
        ("extension", "e164", "from-internal", "outbound"),
        ("e164", "e164", "outbound", "outbound"),
        ("e164", "e164", "from-pstn", "inbound"),
        ("anonymous", "extension", "from-internal", "inbound"),
        ("empty", "e164", "from-trunk", "inbound"),
        ("invalid", "extension", "from-internal", "unknown"),
        ("e164", "e164", "macro-dial", "unknown"),
        ("extension", "invalid", "from-internal", "unknown"),
    ],
)
def test_classify_direction(src: str, dst: str, context: str, direction: str) -> None:
    assert classify_direction(src, dst, context) == direction


def _random_cdr_file(seed: int, rows: int) -> bytes:
    """Generated Master.csv mixing clean rows with every edge case the readers handle."""
    rng = random.Random(seed)
    au = [f"04{rng.randrange(10**8):08d}" for _ in range(40)] + ["0255501234", "+61 3 5550 4567"]
    us = ["2125550147", "12125550147", "18005550199", "+1 (212) 555-0147"]
    odd = ["", "anonymous", "Restricted", "1004", "2001", "0123", "abc", "+999", "1"]
    names = ["Smith, J", 'O"Brien', "Reception", "", 'Zoë, "the" one', "Anonymous"]
    contexts = ["from-pstn", "from-internal", "outbound", "from-trunk", "macro-dial"]
    userfields = ["", "campaign=q4", "crm=hubspot:contact/1", "campaign=a;crm=sf:lead/2", "x=y"]
    lines: list[str] = []
    for index in range(rows):
        tenant = rng.choice(["acme-au"] * 5 + ["beta-us"] * 3 + ["ghost"])
        pool = (au if tenant == "acme-au" else us) + odd
        src, dst = rng.choice(pool), rng.choice(pool)
        name = rng.choice(names)
        clid = rng.choice([f'"{name}" <{src}>', f"<{src}>", src, name])
        fields = {
            "accountcode": tenant,
            "src": src,
            "dst": dst,
            "dcontext": rng.choice(contexts),
            "clid": clid,
            "start": rng.choice(["2026-11-20 09:15:02"] * 20 + ["2026-02-29 10:00:00", "x"]),
            "answer": rng.choice(["", "2026-11-20 09:15:09", "2026-11-20 09:15:09", "later"]),
            "end": rng.choice(["2026-11-20 09:18:51"] * 20 + ["2026-04-31 00:00:00"]),
            "duration": rng.choice(["229", "0", "12", "-1", ""]),
            "billsec": rng.choice(["222", "0", "7", "abc"]),
            "uniqueid": rng.choice([f"1763630102.{index}"] * 15 + ["", f"1763630102.{index // 2}"]),
            "userfield": rng.choice(userfields),
        }
        line = cdr_line(**fields)
        roll = rng.random()
        if roll < 0.02:
            line = ""
        elif roll < 0.04:
            line = ",".join(line.split(",")[: rng.randrange(1, 17)])
        elif roll < 0.05:
            line += ',"extra"'
        elif roll < 0.06:
            line = line.replace('"from-', '"from\n-', 1)
        lines.append(line)
    return build(lines)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_reader_matches_naive_reader_on_generated_files(seed: int) -> None:
    result = parse_both(_random_cdr_file(seed, 1200))
    assert len(result.calls) > 200
    found = {row.reason_code for row in result.quarantined}
    assert {
        "wrong_field_count",
        "unknown_tenant",
        "missing_uniqueid",
        "bad_timestamp",
        "bad_integer",
        "duplicate_uniqueid",
        "unbalanced_quotes",
    } <= found
    assert set(result.calls["direction"]) >= {"inbound", "outbound", "internal", "unknown"}
    lines = set(result.calls["source_line"]) | {row.line_number for row in result.quarantined}
    assert len(lines) == len(result.calls) + len(result.quarantined)


def test_bom_on_a_refused_first_line_in_a_clean_file() -> None:
    lines = ['"acme-au","0491570156"', cdr_line(uniqueid="1"), '"acme-au"']
    data = b"\xef\xbb\xbf" + build(lines)
    result = parse_both(data)
    assert reasons(result) == [(1, "wrong_field_count"), (3, "wrong_field_count")]
    assert result.quarantined[0].raw_record == lines[0]
    assert result.calls["source_line"].tolist() == [2]
