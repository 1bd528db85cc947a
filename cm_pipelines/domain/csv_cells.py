"""CSV injection: every CSV file the platform writes for people (wash outputs, the dialer's
allowed lists, DSAR package files) passes its cells through here.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab
or carriage return) as a formula: ``=HYPERLINK(...)`` leaks data on a click, ``=cmd|' /C ...'!A0``
runs a program through DDE. Values from campaign lists, CRM exports and transcripts are not ours,
so such a cell is written with a single quote in front (OWASP, "CSV Injection"): the spreadsheet
shows it as text, and the quote shows that it was neutralised.

Phone columns stay usable: a cell made only of digits, spaces and ``+ - ( ) . /`` (``+6591234567``,
``+1 (415) 555-0123``, ``-12.5``) is written as it is. It holds no letter, so it can name no
function and no cell, and no ``|`` or ``!``, so no DDE: at worst a spreadsheet shows it as a
number. The platform's own files stay re-importable with their E.164 numbers unchanged.

Files machines read (COPY into PostgreSQL, a registry's wash request) are not for a spreadsheet
and are written as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PREFIX = "'"
_NUMBER_LIKE = re.compile(r"[+\-]?[0-9 ().\-/+]*[0-9][0-9 ().\-/]*")


def needs_neutralising(value: object) -> bool:
    """A text cell a spreadsheet would take for a formula (and not a plain number)."""
    return (
        isinstance(value, str)
        and value.startswith(TRIGGERS)
        and _NUMBER_LIKE.fullmatch(value) is None
    )


def neutralise_cell(value: Any) -> Any:
    """The cell to write: a formula-like text prefixed with a single quote, else unchanged."""
    return PREFIX + value if needs_neutralising(value) else value


def neutralise_rows(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows for ``csv.writer`` with every cell neutralised."""
    return [[neutralise_cell(cell) for cell in row] for row in rows]


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised (numeric columns cannot hold a
    formula and are left alone; a text column costs one prefix test per cell)."""
    output = frame.copy()
    for column in output.columns:
        series = output[column]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        values = series.to_numpy(dtype=object)
        flags = [needs_neutralising(value) for value in values]
        if any(flags):
            output[column] = pd.Series(
                [PREFIX + v if flag else v for v, flag in zip(values, flags, strict=True)],
                index=series.index,
                dtype=object,
            )
    return output


def safe_csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV (header, no index, ``\\n`` line ends), cells neutralised."""
    return neutralise_frame(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")
