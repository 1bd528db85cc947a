"""The fast reader's checks on parsed ``cdr_csv`` rows, whole columns at a time.

A row is refused for the first check it fails, in the order ``read_cdr_csv`` documents, then
rows repeating a (tenant, uniqueid) of an earlier passing line are refused as duplicates.
Refusals are recorded by line index into the reader's ``refused`` map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cm_pipelines.domain.ingestion.cdr.fields import userfield_column
from cm_pipelines.domain.ingestion.cdr.layout import (
    BLANKS,
    CDR_FIELDS,
    CONTROL,
    FIELD_LIMITS,
    INTEGER_SHAPE,
    TIMESTAMP_FORMAT,
    TIMESTAMP_SHAPE,
    UNIQUEID_SHAPE,
    USERFIELD_LIMITS,
)
from cm_pipelines.domain.ingestion.cdr.refusals import (
    DETAIL_ANSWER,
    DETAIL_BAD_UNIQUEID,
    DETAIL_CONTROL,
    DETAIL_DUPLICATE,
    DETAIL_INTEGER,
    DETAIL_TENANT,
    DETAIL_TIMESTAMP,
    DETAIL_TOO_LONG,
    DETAIL_UNIQUEID,
)
from cm_pipelines.domain.tenants import Tenant

Check = tuple[str, str, np.ndarray]
"""(reason, detail, failed mask over the table's rows)."""


@dataclass(frozen=True)
class ParsedValues:
    """Typed columns of every parsed row, null where the value failed its check:
    ``timestamps`` by started/answered/ended, ``integers`` by duration/billsec."""

    timestamps: dict[str, pa.ChunkedArray]
    integers: dict[str, pa.ChunkedArray]


def to_bool(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean column as a numpy mask, null counting as False."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _parse_timestamps(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Strict ``YYYY-MM-DD HH:MM:SS``: shape by regex, then reject days a month does not have
    (pyarrow's strptime would roll 2026-02-30 over into March)."""
    shaped = pc.match_substring_regex(column, TIMESTAMP_SHAPE)
    safe = pc.if_else(shaped, column, "1970-01-01 00:00:00")
    parsed = pc.strptime(safe, format=TIMESTAMP_FORMAT, unit="s", error_is_null=True)
    day_of_text = pc.cast(pc.utf8_slice_codeunits(safe, 8, 10), pa.int64())
    valid = pc.fill_null(
        pc.and_kleene(
            pc.and_kleene(shaped, pc.is_valid(parsed)), pc.equal(pc.day(parsed), day_of_text)
        ),
        False,
    )
    return pc.if_else(valid, parsed, pa.scalar(None, parsed.type)), to_bool(valid)


def _parse_integers(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray]:
    shaped = pc.fill_null(pc.match_substring_regex(column, INTEGER_SHAPE), False)
    return pc.cast(pc.if_else(shaped, column, "0"), pa.int64()), to_bool(shaped)


def _holds_control(table: pa.Table, may_hold_control: bool) -> np.ndarray:
    """Rows with a control character in any field (none to look for if the file has none)."""
    control = np.zeros(table.num_rows, dtype=bool)
    for name in CDR_FIELDS if may_hold_control else ():
        control |= to_bool(pc.match_substring_regex(table.column(name), CONTROL))
    return control


def _too_long(table: pa.Table) -> np.ndarray:
    """Rows with a field, or a value taken out of userfield, wider than the column storing it."""
    too_long = np.zeros(table.num_rows, dtype=bool)
    for name, limit in FIELD_LIMITS.items():
        too_long |= to_bool(pc.greater(pc.utf8_length(table.column(name)), limit))
    userfield_values = table.column("userfield").combine_chunks()
    for key, limit in USERFIELD_LIMITS.items():
        extracted = userfield_column(userfield_values, key)
        too_long |= to_bool(pc.greater(pc.utf8_length(extracted), limit))
    return too_long


def field_checks(
    table: pa.Table, tenants: Mapping[str, Tenant], may_hold_control: bool
) -> tuple[list[Check], ParsedValues]:
    """Every check a parsed row must pass, in refusal order, and the values they parsed."""
    column = {name: table.column(name) for name in CDR_FIELDS}
    known = to_bool(pc.is_in(column["accountcode"], value_set=pa.array(list(tenants), pa.string())))
    has_uniqueid = to_bool(pc.not_equal(pc.utf8_trim(column["uniqueid"], characters=BLANKS), ""))
    started, started_ok = _parse_timestamps(column["start"])
    answered, answered_ok = _parse_timestamps(column["answer"])
    ended, ended_ok = _parse_timestamps(column["end"])
    answer_empty = to_bool(pc.equal(column["answer"], ""))
    duration, duration_ok = _parse_integers(column["duration"])
    billsec, billsec_ok = _parse_integers(column["billsec"])
    safe_uniqueid = to_bool(pc.match_substring_regex(column["uniqueid"], UNIQUEID_SHAPE))
    checks: list[Check] = [
        ("unknown_tenant", DETAIL_TENANT, ~known),
        ("missing_uniqueid", DETAIL_UNIQUEID, ~has_uniqueid),
        ("bad_uniqueid", DETAIL_BAD_UNIQUEID, ~safe_uniqueid),
        ("control_characters", DETAIL_CONTROL, _holds_control(table, may_hold_control)),
        ("field_too_long", DETAIL_TOO_LONG, _too_long(table)),
        ("bad_timestamp", DETAIL_TIMESTAMP.format(field="start"), ~started_ok),
        ("bad_timestamp", DETAIL_ANSWER, ~(answered_ok | answer_empty)),
        ("bad_timestamp", DETAIL_TIMESTAMP.format(field="end"), ~ended_ok),
        ("bad_integer", DETAIL_INTEGER.format(field="duration"), ~duration_ok),
        ("bad_integer", DETAIL_INTEGER.format(field="billsec"), ~billsec_ok),
    ]
    values = ParsedValues(
        timestamps={"started": started, "answered": answered, "ended": ended},
        integers={"duration": duration, "billsec": billsec},
    )
    return checks, values


def refuse_first_failures(
    table: pa.Table,
    checks: list[Check],
    row_lines: np.ndarray,
    refused: dict[int, tuple[str, str]],
) -> np.ndarray:
    """Refuse each row for the first check it fails; returns the mask of rows that pass all."""
    passed = np.ones(table.num_rows, dtype=bool)
    for reason, detail, failed in checks:
        for row in np.flatnonzero(passed & failed).tolist():
            refused[int(row_lines[row])] = (reason, detail)
        passed &= ~failed
    return passed


def refuse_repeated_calls(
    table: pa.Table,
    row_lines: np.ndarray,
    candidates: np.ndarray,
    refused: dict[int, tuple[str, str]],
) -> np.ndarray:
    """Refuse a candidate row whose (tenant, uniqueid) an earlier candidate already has, naming
    that first line; returns the rows kept."""
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
                DETAIL_DUPLICATE.format(line=int(first_line[position])),
            )
    return candidates[~repeated]
