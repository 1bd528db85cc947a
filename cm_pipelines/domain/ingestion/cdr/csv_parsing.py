"""Candidate ``cdr_csv`` lines into a table of 18 string columns, each row tied to its line.

pyarrow parses the whole file at once; when its records cannot be mapped one-to-one to physical
lines (an opening quote mid-line makes it read on into the next line), Python's ``csv`` parses
the candidates line by line instead, so line numbers stay exact either way.
"""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from cm_pipelines.domain.ingestion.cdr.layout import CDR_FIELDS


class LineMappingError(Exception):
    """pyarrow's records did not line up one-to-one with physical lines."""


def parse_with_pyarrow(
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
        raise LineMappingError
    wrong_count: dict[int, int] = {}
    if invalid:
        found_by_text = {text.encode("utf-8"): found for text, found in invalid}
        for index in candidates.tolist():
            found = found_by_text.get(lines[index])
            if found is not None:
                wrong_count[index] = found
        if len(wrong_count) != len(invalid):
            raise LineMappingError
        keep = ~np.isin(candidates, np.fromiter(wrong_count, dtype=np.int64))
        row_lines = candidates[keep]
    else:
        row_lines = candidates
    return table, row_lines, wrong_count


def parse_line_by_line(
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
