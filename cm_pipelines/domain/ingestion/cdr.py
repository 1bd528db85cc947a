"""Asterisk ``cdr_csv`` (Master.csv) into normalised call rows, bad lines quarantined.

The file has 18 positional fields and no header. Every field is read as a string: type
inference turns ``0491570156`` into an integer and ``+61...`` into a float.

Line policy (both readers): physical lines are split on ``\\n``, ``\\r\\n`` or ``\\r`` (as
pyarrow and ``bytes.splitlines`` split them) and each non-empty line is one record. A quoted
field cannot span lines: a line with an odd number of ``"`` characters is quarantined as
``unbalanced_quotes`` (every fragment of a record broken by a line break lands there, each
with its own line number), so line numbers stay exact and the fast reader stays vectorised.

``read_cdr_csv`` is the production reader (pyarrow parse, vectorised validation, each distinct
number parsed once per tenant); ``read_cdr_csv_naive`` builds the same result row by row and is
the benchmark baseline and the test oracle.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from cm_pipelines.domain.phone_numbers import (
    ANONYMOUS_TOKENS,
    normalise_values,
    parse_party_uncached,
)
from cm_pipelines.domain.quarantine import QuarantinedRow
from cm_pipelines.domain.tenants import Tenant

__all__ = [
    "CDR_FIELDS",
    "OUTPUT_COLUMNS",
    "CdrParseResult",
    "QuarantinedRow",
    "classify_direction",
    "parse_caller_name",
    "read_cdr_csv",
    "read_cdr_csv_naive",
    "userfield_value",
]

CDR_FIELDS: tuple[str, ...] = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
)

_TIMESTAMP_COLUMNS = ("started_at", "answered_at", "ended_at")
_INTEGER_COLUMNS = ("duration_s", "billsec_s", "source_line")
OUTPUT_COLUMNS: tuple[str, ...] = (
    "tenant_id",
    "call_id",
    "started_at",
    "answered_at",
    "ended_at",
    "call_date",
    "duration_s",
    "billsec_s",
    "disposition",
    "src_kind",
    "src_e164",
    "src_extension",
    "dst_kind",
    "dst_e164",
    "dst_extension",
    "caller_name",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "userfield",
    "campaign_id",
    "crm_ref",
    "direction",
    "source_file",
    "source_line",
)
"""Timestamps are the PBX's naive local wall time; ``call_date`` is the start's date."""

INBOUND_CONTEXTS: frozenset[str] = frozenset({"from-pstn", "from-trunk"})
"""Dialplan contexts a carrier trunk delivers calls into."""
OUTBOUND_CONTEXTS: frozenset[str] = frozenset({"from-internal", "outbound", "outbound-allroutes"})
"""Contexts a handset dials out from (with the company number as caller id, src is external)."""

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
_TIMESTAMP_SHAPE = (
    r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) "
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
)
_INTEGER_SHAPE = r"^[0-9]{1,18}$"
# Explicit [ \t] rather than \s: RE2 (pyarrow) and Python disagree on Unicode whitespace.
_CLID = r'^[ \t]*(?:"(?P<quoted>.*)"|(?P<bare>[^"<]*?))[ \t]*(?:<[^<>]*>)?[ \t]*$'
_NUMBER_LIKE = r"^[0-9 \t+().\-]*$"
_USERFIELD = r"(?:^|[;,|& \t]){key}=(?P<value>[^;,|& \t]*)"
_BLANKS = " \t"
_BOM = b"\xef\xbb\xbf"
_NO_LINE = -1

_UNIQUEID_SHAPE = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
FIELD_LIMITS: dict[str, int] = {
    "clid": 200,
    "dcontext": 80,
    "channel": 120,
    "dstchannel": 120,
    "lastapp": 40,
    "disposition": 32,
    "userfield": 255,
}
"""Widest value a stored field may have: the ``calls`` column widths (PostgreSQL would refuse the
whole day for one longer value). ``USERFIELD_LIMITS`` bounds the values taken out of userfield."""
USERFIELD_LIMITS: dict[str, int] = {"campaign": 64, "crm": 128}

_DETAIL_WRONG_COUNT = "expected {expected} fields, found {found}"
_DETAIL_BAD_UNIQUEID = "uniqueid must be 1-64 letters, digits, '.', '_' or '-' (no leading '.')"
_DETAIL_CONTROL = "a field contains control characters"
_DETAIL_TOO_LONG = "a field is longer than the warehouse column that stores it"
_DETAIL_UNBALANCED = (
    "a quoted field is not closed on this line (line breaks inside fields are not supported)"
)
_DETAIL_ENCODING = "line is not valid UTF-8"
_DETAIL_TENANT = "accountcode is not a configured tenant"
_DETAIL_UNIQUEID = "uniqueid is empty"
_DETAIL_TIMESTAMP = "{field} is not a 'YYYY-MM-DD HH:MM:SS' timestamp"
_DETAIL_ANSWER = "answer is neither empty nor a 'YYYY-MM-DD HH:MM:SS' timestamp"
_DETAIL_INTEGER = "{field} is not a whole number of seconds"
_DETAIL_DUPLICATE = "uniqueid repeats the call first seen on line {line} for this tenant"


@dataclass
class CdrParseResult:
    """Accepted calls (``OUTPUT_COLUMNS``) and every refused line, ordered by line number."""

    calls: pd.DataFrame
    quarantined: list[QuarantinedRow] = field(default_factory=list)


# ---------------------------------------------------------------- scalar rules (shared meaning)


def classify_direction(src_kind: str, dst_kind: str, dcontext: str) -> str:
    """``internal`` (extension to extension), ``outbound`` (to an external number from an
    extension or an outbound context), ``inbound`` (from a trunk context with a non-extension
    caller, or an external/anonymous caller to an extension), else ``unknown``."""
    if src_kind == "extension" and dst_kind == "extension":
        return "internal"
    if dst_kind == "e164" and (src_kind == "extension" or dcontext in OUTBOUND_CONTEXTS):
        return "outbound"
    if (dcontext in INBOUND_CONTEXTS and src_kind != "extension") or (
        src_kind in ("e164", "anonymous") and dst_kind == "extension"
    ):
        return "inbound"
    return "unknown"


_CLID_RE = re.compile(_CLID)
_NUMBER_LIKE_RE = re.compile(_NUMBER_LIKE)


def parse_caller_name(clid: str) -> str | None:
    """Name part of ``"Smith, J" <+61355504567>``; None when absent, a number or 'anonymous'."""
    match = _CLID_RE.match(clid)
    if match is None:
        return None
    name = match.group("quoted") or (match.group("bare") or "").strip(_BLANKS)
    if not name or _NUMBER_LIKE_RE.match(name) or name.lower() in ANONYMOUS_TOKENS:
        return None
    return name


def userfield_value(userfield: str, key: str) -> str | None:
    """Value of ``key=...`` in a userfield such as ``campaign=q4;crm=hubspot:contact/1``."""
    match = re.search(_USERFIELD.format(key=re.escape(key)), userfield)
    if match is None:
        return None
    return match.group("value") or None


# ---------------------------------------------------------------- line splitting


def _physical_lines(data: bytes) -> list[bytes]:
    lines = data.splitlines()
    if lines and lines[0].startswith(_BOM):
        lines[0] = lines[0][len(_BOM) :]
    return lines


def _raw_text(line: bytes) -> str:
    """Original line text; undecodable bytes stay visible as escapes rather than being lost."""
    return line.decode("utf-8", errors="backslashreplace")


def _decodes(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _prescreen(lines: list[bytes]) -> dict[int, tuple[str, str]]:
    """Lines refused before CSV parsing (index -> reason, detail)."""
    refused: dict[int, tuple[str, str]] = {}
    for index, line in enumerate(lines):
        if not line.isascii() and not _decodes(line):
            refused[index] = ("bad_encoding", _DETAIL_ENCODING)
        elif line.count(b'"') & 1:
            refused[index] = ("unbalanced_quotes", _DETAIL_UNBALANCED)
    return refused


# ---------------------------------------------------------------- fast reader


class _LineMappingError(Exception):
    """pyarrow's records did not line up one-to-one with physical lines."""


def _parse_with_pyarrow(
    data: bytes, candidates: np.ndarray, lines: list[bytes]
) -> tuple[pa.Table, np.ndarray, dict[int, int]]:
    """Parse all candidate lines; returns (table, line index per row, wrong-count lines)."""
    invalid: list[tuple[str, int]] = []

    def on_invalid(row: pa_csv.InvalidRow) -> str:
        invalid.append((row.text, row.actual_columns))
        return "skip"

    table = pa_csv.read_csv(
        pa.BufferReader(data),
        read_options=pa_csv.ReadOptions(column_names=list(CDR_FIELDS), block_size=16 << 20),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in CDR_FIELDS},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if table.num_rows + len(invalid) != len(candidates):
        raise _LineMappingError
    wrong_count: dict[int, int] = {}
    if invalid:
        found_by_text = {text.encode("utf-8"): found for text, found in invalid}
        for index in candidates.tolist():
            found = found_by_text.get(lines[index])
            if found is not None:
                wrong_count[index] = found
        if len(wrong_count) != len(invalid):
            raise _LineMappingError
        keep = ~np.isin(candidates, np.fromiter(wrong_count, dtype=np.int64))
        row_lines = candidates[keep]
    else:
        row_lines = candidates
    return table, row_lines, wrong_count


def _parse_line_by_line(
    candidates: np.ndarray, lines: list[bytes]
) -> tuple[pa.Table, np.ndarray, dict[int, int]]:
    """Fallback when pyarrow's records cannot be mapped to lines: Python's csv, line by line."""
    columns: list[list[str]] = [[] for _ in CDR_FIELDS]
    row_lines: list[int] = []
    wrong_count: dict[int, int] = {}
    for index in candidates.tolist():
        fields = next(csv.reader([lines[index].decode("utf-8")]))
        if len(fields) != len(CDR_FIELDS):
            wrong_count[index] = len(fields)
            continue
        row_lines.append(index)
        for column, value in zip(columns, fields, strict=True):
            column.append(value)
    table = pa.table(
        {name: pa.array(col, pa.string()) for name, col in zip(CDR_FIELDS, columns, strict=True)}
    )
    return table, np.asarray(row_lines, dtype=np.int64), wrong_count


def _to_bool(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _parse_timestamps(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Strict ``YYYY-MM-DD HH:MM:SS``: shape by regex, then reject days a month does not have
    (pyarrow's strptime would roll 2026-02-30 over into March)."""
    shaped = pc.match_substring_regex(column, _TIMESTAMP_SHAPE)
    safe = pc.if_else(shaped, column, "1970-01-01 00:00:00")
    parsed = pc.strptime(safe, format=TIMESTAMP_FORMAT, unit="s", error_is_null=True)
    day_of_text = pc.cast(pc.utf8_slice_codeunits(safe, 8, 10), pa.int64())
    valid = pc.fill_null(
        pc.and_kleene(
            pc.and_kleene(shaped, pc.is_valid(parsed)), pc.equal(pc.day(parsed), day_of_text)
        ),
        False,
    )
    return pc.if_else(valid, parsed, pa.scalar(None, parsed.type)), _to_bool(valid)


def _parse_integers(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray]:
    shaped = pc.fill_null(pc.match_substring_regex(column, _INTEGER_SHAPE), False)
    return pc.cast(pc.if_else(shaped, column, "0"), pa.int64()), _to_bool(shaped)


def _extract(column: pa.ChunkedArray | pa.Array, pattern: str, group: str) -> pa.Array:
    extracted = pc.extract_regex(column, pattern)
    if isinstance(extracted, pa.ChunkedArray):
        extracted = extracted.combine_chunks()
    return extracted.field(group)


def _userfield_column(userfield: pa.Array, key: str) -> pa.Array:
    value = _extract(userfield, _USERFIELD.format(key=re.escape(key)), "value")
    return pc.if_else(pc.equal(value, ""), pa.scalar(None, pa.string()), value)


def _on_distinct(
    column: pa.ChunkedArray | pa.Array, derive: Callable[[pa.Array], pa.Array]
) -> pa.Array:
    """Apply a regex-heavy derivation once per distinct value: clids and userfields repeat."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    return pc.take(derive(encoded.dictionary), encoded.indices)


def _caller_names(clid: pa.Array) -> pa.Array:
    extracted = pc.extract_regex(clid, _CLID)
    quoted = extracted.field("quoted")
    bare = pc.utf8_trim(extracted.field("bare"), characters=_BLANKS)
    name = pc.if_else(pc.equal(quoted, ""), bare, quoted)
    refused = pc.or_kleene(
        pc.or_kleene(pc.equal(name, ""), pc.match_substring_regex(name, _NUMBER_LIKE)),
        pc.is_in(pc.utf8_lower(name), value_set=pa.array(sorted(ANONYMOUS_TOKENS))),
    )
    return pc.if_else(pc.fill_null(refused, True), pa.scalar(None, pa.string()), name)


def _directions(src_kind: np.ndarray, dst_kind: np.ndarray, dcontext: np.ndarray) -> np.ndarray:
    src_extension = src_kind == "extension"
    dst_extension = dst_kind == "extension"
    inbound_context = np.isin(dcontext, list(INBOUND_CONTEXTS))
    outbound_context = np.isin(dcontext, list(OUTBOUND_CONTEXTS))
    src_external = (src_kind == "e164") | (src_kind == "anonymous")
    return np.select(
        [
            src_extension & dst_extension,
            (dst_kind == "e164") & (src_extension | outbound_context),
            (inbound_context & ~src_extension) | (src_external & dst_extension),
        ],
        ["internal", "outbound", "inbound"],
        default="unknown",
    ).astype(object)


def _normalise_by_tenant(
    tenant_ids: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    tenants: Mapping[str, Tenant],
) -> dict[str, np.ndarray]:
    """Normalise src and dst with each tenant's country, each distinct string parsed once."""
    size = len(tenant_ids)
    out = {
        name: np.full(size, None, dtype=object)
        for name in (
            "src_kind",
            "src_e164",
            "src_extension",
            "dst_kind",
            "dst_e164",
            "dst_extension",
        )
    }
    for tenant_id in pd.unique(tenant_ids):
        rows = np.flatnonzero(tenant_ids == tenant_id)
        both = np.concatenate([src[rows], dst[rows]])
        kinds, e164s, extensions = normalise_values(both, tenants[tenant_id].country)
        for prefix, part in (("src", slice(0, len(rows))), ("dst", slice(len(rows), None))):
            out[f"{prefix}_kind"][rows] = kinds[part]
            out[f"{prefix}_e164"][rows] = e164s[part]
            out[f"{prefix}_extension"][rows] = extensions[part]
    return out


def _string_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def read_cdr_csv(data: bytes, source_file: str, tenants: Mapping[str, Tenant]) -> CdrParseResult:
    """Parse a Master.csv; every non-empty line ends up either in ``calls`` or ``quarantined``.

    Checks in order (a line gets the first that fails): ``bad_encoding``,
    ``unbalanced_quotes``, ``wrong_field_count``, ``unknown_tenant``, ``missing_uniqueid``,
    ``bad_timestamp`` (start/end required, answer may be empty), ``bad_integer``
    (duration/billsec), ``duplicate_uniqueid`` (same tenant and uniqueid as an earlier line that
    passed every other check; the first is kept).
    """
    lines = _physical_lines(data)
    refused = _prescreen(lines)
    if refused:
        parse_lines = list(lines)
        for index in refused:
            parse_lines[index] = b""
        parse_data = b"\n".join(parse_lines)
    else:
        parse_lines, parse_data = lines, data
    lengths = np.fromiter(map(len, parse_lines), dtype=np.int64, count=len(parse_lines))
    candidates = np.flatnonzero(lengths > 0)

    wrong_count: dict[int, int]
    if len(candidates) == 0:
        table = pa.table({name: pa.array([], pa.string()) for name in CDR_FIELDS})
        row_lines, wrong_count = np.empty(0, dtype=np.int64), {}
    else:
        try:
            table, row_lines, wrong_count = _parse_with_pyarrow(parse_data, candidates, parse_lines)
        except (pa.ArrowInvalid, _LineMappingError):
            table, row_lines, wrong_count = _parse_line_by_line(candidates, parse_lines)
    for index, found in wrong_count.items():
        refused[index] = (
            "wrong_field_count",
            _DETAIL_WRONG_COUNT.format(expected=len(CDR_FIELDS), found=found),
        )
    return _validate_and_build(
        table,
        row_lines,
        refused,
        lines,
        source_file,
        tenants,
        may_hold_control=_CONTROL_BYTES.search(data) is not None,
    )


def _validate_and_build(
    table: pa.Table,
    row_lines: np.ndarray,
    refused: dict[int, tuple[str, str]],
    lines: list[bytes],
    source_file: str,
    tenants: Mapping[str, Tenant],
    may_hold_control: bool = True,
) -> CdrParseResult:
    """Vectorised field checks, duplicate detection and output columns for parsed rows."""
    column = {name: table.column(name) for name in CDR_FIELDS}
    known = _to_bool(
        pc.is_in(column["accountcode"], value_set=pa.array(list(tenants), pa.string()))
    )
    has_uniqueid = _to_bool(pc.not_equal(pc.utf8_trim(column["uniqueid"], characters=_BLANKS), ""))
    started, started_ok = _parse_timestamps(column["start"])
    answered, answered_ok = _parse_timestamps(column["answer"])
    ended, ended_ok = _parse_timestamps(column["end"])
    answer_empty = _to_bool(pc.equal(column["answer"], ""))
    duration, duration_ok = _parse_integers(column["duration"])
    billsec, billsec_ok = _parse_integers(column["billsec"])
    safe_uniqueid = _to_bool(pc.match_substring_regex(column["uniqueid"], _UNIQUEID_SHAPE))
    control = np.zeros(table.num_rows, dtype=bool)
    for name in CDR_FIELDS if may_hold_control else ():
        control |= _to_bool(pc.match_substring_regex(column[name], _CONTROL))
    too_long = np.zeros(table.num_rows, dtype=bool)
    for name, limit in FIELD_LIMITS.items():
        too_long |= _to_bool(pc.greater(pc.utf8_length(column[name]), limit))
    userfield_values = column["userfield"].combine_chunks()
    for key, limit in USERFIELD_LIMITS.items():
        extracted = _userfield_column(userfield_values, key)
        too_long |= _to_bool(pc.greater(pc.utf8_length(extracted), limit))
    checks: list[tuple[str, str, np.ndarray]] = [
        ("unknown_tenant", _DETAIL_TENANT, ~known),
        ("missing_uniqueid", _DETAIL_UNIQUEID, ~has_uniqueid),
        ("bad_uniqueid", _DETAIL_BAD_UNIQUEID, ~safe_uniqueid),
        ("control_characters", _DETAIL_CONTROL, control),
        ("field_too_long", _DETAIL_TOO_LONG, too_long),
        ("bad_timestamp", _DETAIL_TIMESTAMP.format(field="start"), ~started_ok),
        ("bad_timestamp", _DETAIL_ANSWER, ~(answered_ok | answer_empty)),
        ("bad_timestamp", _DETAIL_TIMESTAMP.format(field="end"), ~ended_ok),
        ("bad_integer", _DETAIL_INTEGER.format(field="duration"), ~duration_ok),
        ("bad_integer", _DETAIL_INTEGER.format(field="billsec"), ~billsec_ok),
    ]
    passed = np.ones(table.num_rows, dtype=bool)
    for reason, detail, failed in checks:
        for row in np.flatnonzero(passed & failed).tolist():
            refused[int(row_lines[row])] = (reason, detail)
        passed &= ~failed

    candidates = np.flatnonzero(passed)
    keys = table.select(["accountcode", "uniqueid"]).take(pa.array(candidates)).to_pandas()
    repeated = keys.duplicated(keep="first").to_numpy()
    if repeated.any():
        keys["line"] = row_lines[candidates] + 1
        first_line = (
            keys.groupby(["accountcode", "uniqueid"], sort=False)["line"]
            .transform("first")
            .to_numpy()
        )
        for position in np.flatnonzero(repeated).tolist():
            refused[int(row_lines[candidates[position]])] = (
                "duplicate_uniqueid",
                _DETAIL_DUPLICATE.format(line=int(first_line[position])),
            )
    kept = candidates[~repeated]

    quarantined = [
        QuarantinedRow(source_file, index + 1, reason, detail, _raw_text(lines[index]))
        for index, (reason, detail) in sorted(refused.items())
    ]
    return CdrParseResult(
        calls=_build_calls(
            table.take(pa.array(kept)),
            {"started": started, "answered": answered, "ended": ended},
            {"duration": duration, "billsec": billsec},
            kept,
            row_lines[kept] + 1,
            source_file,
            tenants,
        ),
        quarantined=quarantined,
    )


def _build_calls(
    rows: pa.Table,
    timestamps: dict[str, pa.ChunkedArray],
    integers: dict[str, pa.ChunkedArray],
    kept: np.ndarray,
    source_lines: np.ndarray,
    source_file: str,
    tenants: Mapping[str, Tenant],
) -> pd.DataFrame:
    take = pa.array(kept)
    dcontext = _string_values(rows["dcontext"])
    numbers = _normalise_by_tenant(
        _string_values(rows["accountcode"]),
        _string_values(rows["src"]),
        _string_values(rows["dst"]),
        tenants,
    )
    userfield = rows["userfield"].combine_chunks()
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "tenant_id": rows["accountcode"],
        "call_id": rows["uniqueid"],
        "started_at": timestamps["started"].take(take),
        "answered_at": timestamps["answered"].take(take),
        "ended_at": timestamps["ended"].take(take),
        "call_date": pc.utf8_slice_codeunits(rows["start"], 0, 10),
        "duration_s": integers["duration"].take(take),
        "billsec_s": integers["billsec"].take(take),
        "disposition": rows["disposition"],
        **{name: pa.array(values, pa.string()) for name, values in numbers.items()},
        "caller_name": _on_distinct(rows["clid"], _caller_names),
        "dcontext": rows["dcontext"],
        "channel": rows["channel"],
        "dstchannel": rows["dstchannel"],
        "lastapp": rows["lastapp"],
        "userfield": userfield,
        "campaign_id": _on_distinct(
            userfield, lambda values: _userfield_column(values, "campaign")
        ),
        "crm_ref": _on_distinct(userfield, lambda values: _userfield_column(values, "crm")),
        "direction": pa.array(
            _directions(numbers["src_kind"], numbers["dst_kind"], dcontext), pa.string()
        ),
        "source_file": pa.array(np.full(len(kept), source_file, dtype=object), pa.string()),
        "source_line": pa.array(source_lines, pa.int64()),
    }
    return _finalise(pa.table(columns).to_pandas())


def _finalise(frame: pd.DataFrame) -> pd.DataFrame:
    """One dtype per column whichever reader built the frame: str, int64, datetime64[us]."""
    columns: dict[str, pd.Series] = {}
    for name in OUTPUT_COLUMNS:
        values = frame[name] if name in frame else pd.Series([], dtype=object)
        if name in _TIMESTAMP_COLUMNS:
            columns[name] = values.astype("datetime64[us]")
        elif name in _INTEGER_COLUMNS:
            columns[name] = values.astype("int64")
        else:
            columns[name] = values.astype("str")
    return pd.DataFrame(columns).reset_index(drop=True)


# ---------------------------------------------------------------- naive baseline

_TIMESTAMP_RE = re.compile(_TIMESTAMP_SHAPE)
_INTEGER_RE = re.compile(_INTEGER_SHAPE)


def _timestamp_or_none(value: str) -> datetime | None:
    if not _TIMESTAMP_RE.match(value):
        return None
    try:
        return datetime.strptime(value, TIMESTAMP_FORMAT)
    except ValueError:
        return None


def _integer_or_none(value: str) -> int | None:
    return int(value) if _INTEGER_RE.match(value) else None


def read_cdr_csv_naive(
    data: bytes, source_file: str, tenants: Mapping[str, Tenant]
) -> CdrParseResult:
    """Row-by-row reference: ``csv`` per line, ``phonenumbers`` per row, no caching.

    Same rules and output as ``read_cdr_csv``; kept as the benchmark baseline and test oracle.
    """
    rows: list[dict[str, object]] = []
    quarantined: list[QuarantinedRow] = []
    first_seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(_physical_lines(data), start=1):
        if not raw:
            continue

        def refuse(reason: str, detail: str, raw: bytes = raw, number: int = number) -> None:
            quarantined.append(QuarantinedRow(source_file, number, reason, detail, _raw_text(raw)))

        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            refuse("bad_encoding", _DETAIL_ENCODING)
            continue
        if text.count('"') % 2:
            refuse("unbalanced_quotes", _DETAIL_UNBALANCED)
            continue
        fields = next(csv.reader([text]))
        if len(fields) != len(CDR_FIELDS):
            refuse(
                "wrong_field_count",
                _DETAIL_WRONG_COUNT.format(expected=len(CDR_FIELDS), found=len(fields)),
            )
            continue
        record = dict(zip(CDR_FIELDS, fields, strict=True))
        tenant = tenants.get(record["accountcode"])
        if tenant is None:
            refuse("unknown_tenant", _DETAIL_TENANT)
            continue
        if not record["uniqueid"].strip(_BLANKS):
            refuse("missing_uniqueid", _DETAIL_UNIQUEID)
            continue
        if not re.fullmatch(_UNIQUEID_SHAPE[1:-1], record["uniqueid"]):
            refuse("bad_uniqueid", _DETAIL_BAD_UNIQUEID)
            continue
        if any(re.search(_CONTROL, value) for value in fields):
            refuse("control_characters", _DETAIL_CONTROL)
            continue
        if any(len(record[name]) > limit for name, limit in FIELD_LIMITS.items()) or any(
            len(userfield_value(record["userfield"], key) or "") > limit
            for key, limit in USERFIELD_LIMITS.items()
        ):
            refuse("field_too_long", _DETAIL_TOO_LONG)
            continue
        started = _timestamp_or_none(record["start"])
        if started is None:
            refuse("bad_timestamp", _DETAIL_TIMESTAMP.format(field="start"))
            continue
        answered = _timestamp_or_none(record["answer"]) if record["answer"] else None
        if record["answer"] and answered is None:
            refuse("bad_timestamp", _DETAIL_ANSWER)
            continue
        ended = _timestamp_or_none(record["end"])
        if ended is None:
            refuse("bad_timestamp", _DETAIL_TIMESTAMP.format(field="end"))
            continue
        duration = _integer_or_none(record["duration"])
        if duration is None:
            refuse("bad_integer", _DETAIL_INTEGER.format(field="duration"))
            continue
        billsec = _integer_or_none(record["billsec"])
        if billsec is None:
            refuse("bad_integer", _DETAIL_INTEGER.format(field="billsec"))
            continue
        key = (record["accountcode"], record["uniqueid"])
        if key in first_seen:
            refuse("duplicate_uniqueid", _DETAIL_DUPLICATE.format(line=first_seen[key]))
            continue
        first_seen[key] = number
        src = parse_party_uncached(record["src"], tenant.country)
        dst = parse_party_uncached(record["dst"], tenant.country)
        rows.append(
            {
                "tenant_id": record["accountcode"],
                "call_id": record["uniqueid"],
                "started_at": started,
                "answered_at": answered,
                "ended_at": ended,
                "call_date": record["start"][:10],
                "duration_s": duration,
                "billsec_s": billsec,
                "disposition": record["disposition"],
                "src_kind": src.kind,
                "src_e164": src.e164,
                "src_extension": src.extension,
                "dst_kind": dst.kind,
                "dst_e164": dst.e164,
                "dst_extension": dst.extension,
                "caller_name": parse_caller_name(record["clid"]),
                "dcontext": record["dcontext"],
                "channel": record["channel"],
                "dstchannel": record["dstchannel"],
                "lastapp": record["lastapp"],
                "userfield": record["userfield"],
                "campaign_id": userfield_value(record["userfield"], "campaign"),
                "crm_ref": userfield_value(record["userfield"], "crm"),
                "direction": classify_direction(src.kind, dst.kind, record["dcontext"]),
                "source_file": source_file,
                "source_line": number,
            }
        )
    return CdrParseResult(
        calls=_finalise(pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))),
        quarantined=quarantined,
    )
