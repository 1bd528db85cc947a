"""The production ``cdr_csv`` reader: pyarrow parse, vectorised validation, each distinct number
parsed once per tenant. ``naive_reader`` builds the same result row by row."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from cm_pipelines.domain.ingestion.cdr.calls import build_calls
from cm_pipelines.domain.ingestion.cdr.csv_parsing import (
    LineMappingError,
    parse_line_by_line,
    parse_with_pyarrow,
)
from cm_pipelines.domain.ingestion.cdr.layout import CDR_FIELDS, CdrParseResult
from cm_pipelines.domain.ingestion.cdr.lines import physical_lines, prescreen, raw_text
from cm_pipelines.domain.ingestion.cdr.refusals import DETAIL_WRONG_COUNT
from cm_pipelines.domain.ingestion.cdr.validation import (
    field_checks,
    refuse_first_failures,
    refuse_repeated_calls,
)
from cm_pipelines.domain.quarantine import QuarantinedRow
from cm_pipelines.domain.tenants import Tenant

_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def read_cdr_csv(data: bytes, source_file: str, tenants: Mapping[str, Tenant]) -> CdrParseResult:
    """Parse a Master.csv; every non-empty line ends up either in ``calls`` or ``quarantined``.

    Checks in order (a line gets the first that fails): ``bad_encoding``,
    ``unbalanced_quotes``, ``wrong_field_count``, ``unknown_tenant``, ``missing_uniqueid``,
    ``bad_timestamp`` (start/end required, answer may be empty), ``bad_integer``
    (duration/billsec), ``duplicate_uniqueid`` (same tenant and uniqueid as an earlier line that
    passed every other check; the first is kept).
    """
    lines = physical_lines(data)
    refused = prescreen(lines)
    table, row_lines, wrong_count = _parse_candidates(data, lines, refused)
    for index, found in wrong_count.items():
        refused[index] = (
            "wrong_field_count",
            DETAIL_WRONG_COUNT.format(expected=len(CDR_FIELDS), found=found),
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


def _parse_candidates(
    data: bytes, lines: list[bytes], refused: dict[int, tuple[str, str]]
) -> tuple[pa.Table, np.ndarray, dict[int, int]]:
    """Parse every non-empty line not refused yet: (table, line index per row, wrong-count
    lines). Refused lines are blanked rather than removed, so pyarrow's rows keep their order."""
    if refused:
        parse_lines = list(lines)
        for index in refused:
            parse_lines[index] = b""
        parse_data = b"\n".join(parse_lines)
    else:
        parse_lines, parse_data = lines, data
    lengths = np.fromiter(map(len, parse_lines), dtype=np.int64, count=len(parse_lines))
    candidates = np.flatnonzero(lengths > 0)
    if len(candidates) == 0:
        table = pa.table({name: pa.array([], pa.string()) for name in CDR_FIELDS})
        return table, np.empty(0, dtype=np.int64), {}
    try:
        return parse_with_pyarrow(parse_data, candidates, parse_lines)
    except (pa.ArrowInvalid, LineMappingError):
        return parse_line_by_line(candidates, parse_lines)


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
    checks, values = field_checks(table, tenants, may_hold_control)
    passed = refuse_first_failures(table, checks, row_lines, refused)
    kept = refuse_repeated_calls(table, row_lines, np.flatnonzero(passed), refused)
    quarantined = [
        QuarantinedRow(source_file, index + 1, reason, detail, raw_text(lines[index]))
        for index, (reason, detail) in sorted(refused.items())
    ]
    return CdrParseResult(
        calls=build_calls(
            table.take(pa.array(kept)),
            values,
            kept,
            row_lines[kept] + 1,
            source_file,
            tenants,
        ),
        quarantined=quarantined,
    )
