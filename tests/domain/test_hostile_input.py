"""Hostile input at every door: SQL, path traversal, control characters and oversized values are
refused with a clear message, or stored inertly — never executed, never followed, never echoed
raw to a terminal, never allowed to fail a whole day of ingestion.

Doors: every ``cm`` command (discovered, so commands added later are covered too) and every
landing-zone reader (CDR, CRM links, transcripts, AI outputs, WAV, registry files).
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.domain.ingestion.ai_outputs import AiOutputFormatError, parse_ai_output
from cm_pipelines.domain.ingestion.cdr.layout import CDR_FIELDS, FIELD_LIMITS, USERFIELD_LIMITS
from cm_pipelines.domain.ingestion.cdr.naive_reader import read_cdr_csv_naive
from cm_pipelines.domain.ingestion.cdr.reader import read_cdr_csv
from cm_pipelines.domain.ingestion.crm_links import (
    CRM_LINK_COLUMNS,
    CrmLinksFormatError,
    parse_crm_links,
)
from cm_pipelines.domain.ingestion.transcripts import TranscriptFormatError, parse_transcript
from cm_pipelines.domain.ingestion.wav import WavFormatError, make_wav, read_wav_header
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.tables import calls as call_tables

HOSTILE: dict[str, str] = {
    "sql": "x'); DROP TABLE audit_log; --",
    "sql_union": "1 UNION SELECT e164 FROM consents --",
    "traversal": "../../../../etc/passwd",
    "absolute": "/etc/shadow",
    "control": "ok\x1b[2J\x07\x08FORGED LOG LINE",
    "nul": "abc\x00def",
    "newline": "first\nINFO forged entry",
    "oversized": "A" * 100_000,
    "unicode_override": "safe\u202etxt.exe",
}
CLI_HOSTILE = ("sql", "traversal", "control", "nul", "oversized")
"""One value per kind at the CLI doors (some commands launch a run per accepted value)."""
RAW_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202e]")
C0_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""What readers refuse in ids and labels; other Unicode is stored inertly."""
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
TENANT = Tenant("acme-au", "Acme", "AU", "Australia/Sydney")


def _echoes_hostile(text: str, value: str) -> bool:
    """Whether ``text`` shows a hostile value raw: its control characters, or its long body."""
    if RAW_TERMINAL_CONTROLS.search(text):
        return True
    return len(value) > 1000 and value[:1000] in text


def _column_limits(table: sa.Table) -> dict[str, int]:
    return {
        column.name: column.type.length
        for column in table.columns
        if isinstance(column.type, sa.String) and column.type.length
    }


def _assert_storable(row: dict, table: sa.Table, where: str) -> None:
    """A row a reader accepted fits its warehouse columns and holds no NUL (PostgreSQL refuses)."""
    limits = _column_limits(table)
    for name, value in row.items():
        if not isinstance(value, str):
            continue
        assert "\x00" not in value, f"{where}: NUL accepted in {name}"
        if name in limits:
            assert len(value) <= limits[name], f"{where}: {name} longer than its column"


# --- CDR (Asterisk Master.csv) ----------------------------------------------------------------

BASE_CDR = {
    "accountcode": "acme-au",
    "src": "0491570156",
    "dst": "1004",
    "dcontext": "from-pstn",
    "clid": '"Jane" <0491570156>',
    "channel": "PJSIP/trunk-1",
    "dstchannel": "PJSIP/1004-2",
    "lastapp": "Dial",
    "lastdata": "PJSIP/1004,30",
    "start": "2026-11-20 09:15:02",
    "answer": "2026-11-20 09:15:09",
    "end": "2026-11-20 09:18:51",
    "duration": "229",
    "billsec": "222",
    "disposition": "ANSWERED",
    "amaflags": "DOCUMENTATION",
    "uniqueid": "1763630102.421",
    "userfield": "campaign=spring",
}


def _cdr_line(record: dict[str, str]) -> str:
    return ",".join('"' + value.replace('"', '""') + '"' for value in record.values())


def test_the_cdr_column_limits_match_the_calls_table() -> None:
    limits = _column_limits(call_tables.calls)
    stored_as = {"clid": "caller_name", "userfield": "userfield"}
    for field, limit in FIELD_LIMITS.items():
        assert limit <= limits[stored_as.get(field, field)], field
    assert USERFIELD_LIMITS["campaign"] <= limits["campaign_id"]
    assert USERFIELD_LIMITS["crm"] <= limits["crm_ref"]


@pytest.mark.parametrize("reader", [read_cdr_csv, read_cdr_csv_naive])
@pytest.mark.parametrize("field", CDR_FIELDS)
def test_cdr_fields_carrying_hostile_values(reader, field: str) -> None:
    lines = [_cdr_line(BASE_CDR)]
    for number, value in enumerate(HOSTILE.values()):
        record = {**BASE_CDR, "uniqueid": f"1763630200.{number}", field: value}
        if field == "userfield":
            record[field] = f"campaign={value}"
        lines.append(_cdr_line(record))
    data = "\n".join(lines).encode()
    result = reader(data, "landing/cdr/acme-au/2026-11-20/Master.csv", {"acme-au": TENANT})
    assert "1763630102.421" in set(result.calls["call_id"])  # the good line survives
    accepted = result.calls.to_dict("records")
    for row in accepted:
        assert SAFE_ID.fullmatch(row["call_id"]), "an unsafe uniqueid became a call id"
        _assert_storable(row, call_tables.calls, f"cdr {field}")
        for name, value in row.items():
            if isinstance(value, str) and name != "caller_name":
                assert not C0_CONTROLS.search(value), f"control characters in {name}"
    for row in result.quarantined:
        assert all(value[:50] not in row.detail for value in HOSTILE.values())
    assert len(accepted) + len(result.quarantined) == len(data.splitlines())  # none dropped


# --- CRM links ----------------------------------------------------------------------------------


@pytest.mark.parametrize("column", CRM_LINK_COLUMNS)
def test_crm_link_fields_carrying_hostile_values(column: str) -> None:
    good = {
        "call_id": "1763630102.421",
        "crm_system": "hubspot",
        "crm_record_id": "C-1",
        "contact_phone": "0491570156",
        "contact_email": "jane.doe@example.com",
    }
    rows = [good] + [{**good, column: value} for value in HOSTILE.values()]
    buffer = io.StringIO()
    import csv

    writer = csv.DictWriter(buffer, fieldnames=list(CRM_LINK_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    result = parse_crm_links(buffer.getvalue().encode(), "landing/crm/acme-au/x.csv", "AU")
    assert result.links and result.links[0].crm_record_id == "C-1"
    for link in result.links:
        _assert_storable(vars(link), call_tables.crm_links, f"crm {column}")
        for value in vars(link).values():
            if isinstance(value, str):
                assert not C0_CONTROLS.search(value)
    for row in result.quarantined:
        assert all(value[:50] not in row.detail for value in HOSTILE.values())


def test_a_crm_file_that_is_not_utf8_or_has_no_header_is_refused_whole() -> None:
    for data in (b"\xff\xfe\x00garbage", b"", b"x'); DROP TABLE crm_links; --\n"):
        with pytest.raises(CrmLinksFormatError) as caught:
            parse_crm_links(data, "landing/crm/acme-au/x.csv", "AU")
        assert "DROP" not in str(caught.value)


# --- transcripts and AI outputs ----------------------------------------------------------------


def _whisper(**overrides) -> bytes:
    document = {
        "text": "hello there",
        "language": "en",
        "segments": [{"start": 0, "end": 1.5, "text": "hello there"}],
    }
    document.update(overrides)
    return json.dumps(document).encode()


def _transcript_variants() -> Iterator[tuple[str, bytes]]:
    for name, value in HOSTILE.items():
        yield f"text_{name}", _whisper(text=value, segments=[])
        yield f"language_{name}", _whisper(language=value)
        yield f"segment_{name}", _whisper(segments=[{"start": 0, "end": 1, "text": value}])
        yield (
            f"aws_{name}",
            json.dumps({"results": {"transcripts": [{"transcript": value}], "items": []}}).encode(),
        )
    yield "deeply_nested", b"[" * 200_000 + b"]" * 200_000
    yield "nested_object", b'{"text": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
    yield "not_json", b"\x00\x01\x02 DROP TABLE"
    yield "huge_number", _whisper(segments=[{"start": 0, "end": 1e400, "text": "x"}])


@pytest.mark.parametrize("name,data", list(_transcript_variants()), ids=lambda v: str(v)[:30])
def test_transcripts_carrying_hostile_values(name: str, data: bytes) -> None:
    try:
        transcript = parse_transcript(data)
    except TranscriptFormatError as exc:
        assert all(value[:50] not in str(exc) for value in HOSTILE.values())
        return
    row = {"language": transcript.language, "text": transcript.text, "format": transcript.format}
    _assert_storable(row, call_tables.transcripts, name)
    for segment in transcript.segments:
        assert "\x00" not in segment.text


def _ai_variants() -> Iterator[tuple[str, bytes]]:
    base = {
        "call_id": "1763630102.421",
        "kind": "summary",
        "model": "cm-summariser-2",
        "created_at": "2026-11-20T09:20:00Z",
        "text": "Caller asked to move an appointment.",
    }
    for field in base:
        for name, value in HOSTILE.items():
            yield f"{field}_{name}", json.dumps({**base, field: value}).encode()
    yield "deeply_nested", b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize("name,data", list(_ai_variants()), ids=lambda v: str(v)[:30])
def test_ai_outputs_carrying_hostile_values(name: str, data: bytes) -> None:
    try:
        output = parse_ai_output(data)
    except AiOutputFormatError as exc:
        assert all(value[:50] not in str(exc) for value in HOSTILE.values())
        return
    row = {"call_id": output.call_id, "kind": output.kind, "model": output.model}
    row["text"] = output.text
    _assert_storable(row, call_tables.ai_outputs, name)
    for value in (output.call_id, output.kind, output.model):
        assert not C0_CONTROLS.search(value)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"RIFF",
        b"RIFF\xff\xff\xff\xffWAVE" + b"fmt " + struct.pack("<I", 0xFFFFFFF0),
        b"RIFF\x24\x00\x00\x00WAVE" + b"LIST" + struct.pack("<I", 2**31) + b"x" * 64,
        make_wav(0.1)[:30],
        b"x'); DROP TABLE recordings; --" * 10,
    ],
)
def test_wav_headers_that_lie_are_refused_without_reading_past_the_bytes(data: bytes) -> None:
    with pytest.raises(WavFormatError):
        read_wav_header(data)


# --- registry files ----------------------------------------------------------------------------


def test_registry_readers_count_hostile_lines_as_bad_without_crashing() -> None:
    ftc_files = pytest.importorskip("cm_pipelines.domain.dncr.ftc_files")
    e164_csv = pytest.importorskip("cm_pipelines.domain.dncr.e164_csv")
    wash_results = pytest.importorskip("cm_pipelines.domain.dncr.wash_results")
    body = "\n".join(["212,5550147", *HOSTILE.values(), "212,5550148"]).encode()
    parsed, _ = ftc_files.parse_ftc_lines(body, source="landing/dncr/us_ftc/full/x/212.txt")
    assert parsed.numbers.tolist() == [12125550147, 12125550148]
    assert parsed.bad_line_count == len(HOSTILE) + HOSTILE["newline"].count("\n")
    assert all(len(line.raw) <= 200 for _, line in parsed.bad_lines)
    e164 = "e164\n+12125550147\n" + "\n".join(HOSTILE.values()) + "\n"
    parsed_csv = e164_csv.parse_e164_csv(e164.encode(), source="x.csv")
    assert parsed_csv.numbers.tolist() == [12125550147]
    wash = "phone_number,registered,wash_date\n61491570156,Y,2026-11-01\n"
    wash += "\n".join(f"{value},Y,2026-11-01" for value in HOSTILE.values()) + "\n"
    results = wash_results.parse_wash_results(wash.encode(), calling_code=61, source="w.csv")
    assert results.numbers.tolist() == [61491570156]
    assert results.bad_line_count >= len(HOSTILE)


def test_registry_zips_with_traversal_names_or_garbage_are_read_inertly() -> None:
    zip_payloads = pytest.importorskip("cm_pipelines.domain.dncr.zip_payloads")
    parsed_numbers = pytest.importorskip("cm_pipelines.domain.dncr.parsed_numbers")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../../../tmp/evil.txt", "212,5550147\n")
    members = zip_payloads.read_zip_members(buffer.getvalue())
    assert [data for _, data in members] == [b"212,5550147\n"]  # bytes only, nothing extracted
    for garbage in (b"PK\x03\x04" + b"\x00" * 40, b"x'); DROP TABLE x; --"):
        with pytest.raises(parsed_numbers.UnreadableFileError) as caught:
            zip_payloads.read_zip_members(garbage)
        assert "DROP" not in str(caught.value)


# --- every cm command --------------------------------------------------------------------------

SKIPPED_COMMANDS = {("ui",), ("demo",), ("init",), ("generate",)}
"""ui starts a server, demo/init/generate take no free text (and are covered elsewhere)."""

BASELINES: dict[tuple[str, ...], list[str]] = {
    ("dsar", "submit"): [
        "--tenant",
        "acme-au",
        "--type",
        "access",
        "--phone",
        "0491570156",
        "--jurisdiction",
        "au",
        "--actor",
        "priya",
    ],  # fmt: skip
    ("hold", "add"): [
        "--tenant",
        "acme-au",
        "--call",
        "1763630102.421",
        "--reason",
        "matter 12",
        "--actor",
        "priya",
    ],  # fmt: skip
}
"""Valid arguments for commands whose interesting checks run only after others pass."""


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        elif path not in SKIPPED_COMMANDS:
            yield path, command


def _filler(param: click.Parameter) -> str:
    if isinstance(param.type, click.Choice):
        return str(param.type.choices[0])
    if isinstance(param.type, click.types.DateTime):
        return "2026-01-01"
    if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType):
        return "1"
    name = (param.name or "").lower()
    if "tenant" in name:
        return "acme-au"
    if name.endswith("id"):
        return "no-such-id"
    return "routine-value"


def _invocation(path: tuple[str, ...], command: click.Command, target: click.Parameter,
                value: str) -> list[str]:  # fmt: skip
    """Baseline or filler arguments, with ``value`` in ``target``."""
    arguments = list(BASELINES.get(path, []))
    positional: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument):
            positional.append(value if param is target else _filler(param))
            continue
        if not isinstance(param, click.Option) or param.is_flag:
            continue
        flag = max(param.opts, key=len)
        if param is target:
            if flag in arguments:
                index = arguments.index(flag)
                del arguments[index : index + 2]
            arguments += [flag, value]
        elif param.required and flag not in arguments:
            arguments += [flag, _filler(param)]
    return [*path, *positional, *arguments]


def _text_params(command: click.Command) -> list[click.Parameter]:
    return [
        param
        for param in command.params
        if isinstance(param.type, click.types.StringParamType)
        and not (isinstance(param, click.Option) and param.is_flag)
    ]


def _cm_commands() -> list[tuple]:
    from cm_pipelines.cli.main import cm

    return list(_commands(cm))


@pytest.fixture
def project(tmp_path: Path):
    """A migrated project-local warehouse (the one ``cm`` uses) with the tenants loaded."""
    from cm_pipelines.resources import WarehouseResource

    warehouse = WarehouseResource()
    warehouse.upgrade()
    return warehouse


def _table_names(warehouse) -> set[str]:
    with warehouse.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


@pytest.mark.parametrize(
    "path,command", _cm_commands(), ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_every_cm_command_refuses_or_stores_hostile_text_inertly(
    path: tuple[str, ...], command: click.Command, project, tmp_path: Path
) -> None:
    from cm_pipelines.cli.main import cm
    from cm_pipelines.trust.chain import verify_warehouse_chain

    tables_before = _table_names(project)
    runner = CliRunner()
    problems: list[str] = []
    for param in _text_params(command):
        for name in CLI_HOSTILE:
            value = HOSTILE[name]
            arguments = _invocation(path, command, param, value)
            result = runner.invoke(cm, arguments)
            where = f"cm {' '.join(path)} {param.name}={name}"
            output = result.output
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                problems.append(f"{where}: raised {type(result.exception).__name__}")
            elif "unexpected" in output or "Traceback" in output:
                problems.append(f"{where}: crashed instead of refusing ({output[:120]!r})")
            if _echoes_hostile(output, value):
                problems.append(f"{where}: echoed the raw value back")
            if "tenant" in (param.name or "") and result.exit_code == 0:
                problems.append(f"{where}: accepted a hostile tenant id")
    assert not problems, "\n".join(problems)
    assert _table_names(project) == tables_before
    with project.connect() as connection:
        assert verify_warehouse_chain(connection).ok
    outside = [p for p in tmp_path.rglob("*") if "cm_home" not in p.parts and p.is_file()]
    assert outside == [], "a command wrote outside CM_HOME"


def test_a_hostile_hold_reason_is_stored_verbatim_and_listed_safely(project) -> None:
    from cm_pipelines.cli.main import cm

    reason = "matter 7'); DELETE FROM legal_holds; --\x1b[31m red"
    runner = CliRunner()
    added = runner.invoke(
        cm,
        ["hold", "add", "--tenant", "acme-au", "--call", "1763630102.421", "--reason", reason,
         "--actor", "priya", "--allow-unknown"],  # no calls ingested here: one still to arrive
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    with project.connect() as connection:
        stored = connection.execute(sa.text("SELECT reason FROM legal_holds")).scalars().all()
    assert stored == [reason]  # a bound parameter: stored as text, never executed
    listed = runner.invoke(cm, ["hold", "list"])
    assert listed.exit_code == 0 and "\x1b" not in listed.output


@pytest.mark.parametrize("value", ["../acme-au", "acme-au'--", "ACME-AU", "a" * 65, "acme\x00au"])
def test_tenant_ids_are_slugs_everywhere(value: str) -> None:
    from cm_pipelines.domain.tenants import ConfigError, validate_tenant_id
    from cm_pipelines.platform.landing import cdr_file
    from cm_pipelines.resources.object_store import UnsafeObjectPathError, check_relative_path

    with pytest.raises(ConfigError) as caught:
        validate_tenant_id(value)
    assert value not in str(caught.value)
    if "/" in value or "\x00" in value:
        with pytest.raises(UnsafeObjectPathError):
            check_relative_path(cdr_file(value, "2026-11-20"))
