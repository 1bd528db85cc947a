"""CSV registry files with a header and an E.164 column (``e164``/``phone_number``/``number``).

The header and E.164 field readers serve the wash-result files too.
"""

from __future__ import annotations

import numpy as np

from cm_pipelines.domain.dncr.byte_fields import (
    DIGIT_0,
    NEWLINE,
    POW10,
    digit_fields,
    field_bounds,
    line_bounds,
    strip_fields,
)
from cm_pipelines.domain.dncr.number_sets import MAX_E164_DIGITS, empty_numbers, sorted_unique
from cm_pipelines.domain.dncr.parsed_numbers import (
    DEFAULT_KEEP_BAD,
    BadLineCollector,
    ParsedNumbers,
    UnreadableFileError,
)

PHONE_COLUMNS = ("e164", "phone_number", "number", "phone", "msisdn")


def read_header(buf: np.ndarray, source: str) -> tuple[list[str], int]:
    """Column names of the first line and the byte offset where data lines start."""
    newline = np.flatnonzero(buf[: 1 << 16] == NEWLINE)
    end = int(newline[0]) if newline.size else buf.size
    text = bytes(buf[:end]).decode("utf-8", "replace").lstrip("\ufeff").strip()
    names = [name.strip().strip('"').strip().lower() for name in text.split(",")]
    return names, (end + 1 if newline.size else buf.size)


def pick_column(names: list[str], candidates: tuple[str, ...]) -> int | None:
    for candidate in candidates:
        if candidate in names:
            return names.index(candidate)
    return None


def data_lines(buf: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    starts, ends = line_bounds(buf[offset:])
    line_numbers = np.arange(starts.size, dtype=np.int64) + 2
    is_blank = ends <= starts
    return (
        starts[~is_blank] + offset,
        ends[~is_blank] + offset,
        line_numbers[~is_blank],
        int(np.count_nonzero(is_blank)),
    )


def e164_field(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, calling_code: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """E.164 digits with or without ``+``; with ``calling_code`` the number must carry it."""
    starts, ends = strip_fields(buf, starts, ends)
    plus = (starts < ends) & (buf[np.minimum(starts, buf.size - 1)] == ord("+"))
    value, ok, width = digit_fields(buf, starts + plus, ends, MAX_E164_DIGITS)
    ok &= width >= 7
    ok &= buf[np.minimum(starts + plus, buf.size - 1)] != DIGIT_0
    if calling_code is not None:
        code_width = len(str(calling_code))
        # clip: a long non-digit field (already not ok) must not index past POW10
        ok &= value // POW10[np.clip(width - code_width, 0, POW10.size - 1)] == calling_code
    return value, ok


def parse_e164_csv(
    data: bytes,
    *,
    calling_code: int | None = None,
    source: str = "",
    keep_bad: int = DEFAULT_KEEP_BAD,
) -> ParsedNumbers:
    """A CSV with a header naming an ``e164``/``phone_number``/``number`` column (other columns
    ignored); values are E.164 with or without ``+``."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if not buf.size:
        return ParsedNumbers(empty_numbers())
    names, offset = read_header(buf, source)
    column = pick_column(names, PHONE_COLUMNS)
    if column is None:
        raise UnreadableFileError("missing_column", "header has no e164/phone_number column")
    starts, ends, line_numbers, blank = data_lines(buf, offset)
    field_starts, field_ends, shape_ok = field_bounds(buf, starts, ends, len(names))
    value, ok = e164_field(buf, field_starts[:, column], field_ends[:, column], calling_code)
    collector = BadLineCollector(source, keep_bad)
    good = shape_ok & ok
    if not bool(good.all()):
        bad = ~good
        reasons = np.where(shape_ok[bad], "not_e164", "wrong_field_count")
        collector.add(buf, starts[bad], ends[bad], line_numbers[bad], reasons)
    numbers, duplicates = sorted_unique(value[good])
    return ParsedNumbers(
        numbers, int(starts.size), collector.count, collector.kept, duplicates, blank
    )
