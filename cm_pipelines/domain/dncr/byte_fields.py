"""Reading delimited registry text as raw bytes with numpy: chunks, lines, fields and digits.

A US registry download is gigabytes of ``areacode,number`` lines and ``phonenumbers`` parses
about 16k numbers a second, so a file is never split into Python strings unless a line is
malformed: every step here works on arrays of byte offsets.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

NEWLINE, CARRIAGE_RETURN, COMMA, QUOTE, SPACE = 10, 13, 44, 34, 32
DIGIT_0 = 48
POW10 = np.array([10**k for k in range(19)], dtype=np.int64)


def chunk_bounds(buf: np.ndarray, chunk_bytes: int) -> Iterable[tuple[int, int]]:
    """(start, end) byte ranges of at most ~``chunk_bytes`` ending just after a newline."""
    start, size = 0, buf.size
    while start < size:
        end = min(start + chunk_bytes, size)
        while end < size:
            window = buf[end - 1 : min(end - 1 + (1 << 20), size)]
            newline = np.flatnonzero(window == NEWLINE)
            if newline.size:
                end += int(newline[0])
                break
            end = min(end + window.size, size)
        yield start, end
        start = end


def line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without ``\\r\\n``) of every line of a chunk."""
    newlines = np.flatnonzero(buf == NEWLINE)
    starts = np.concatenate((np.zeros(1, np.int64), newlines + 1))
    ends = np.concatenate((newlines, np.array([buf.size], np.int64)))
    if starts[-1] == buf.size:  # the chunk ends with a newline: no trailing segment
        starts, ends = starts[:-1], ends[:-1]
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == CARRIAGE_RETURN)
    ends = ends - has_cr
    return starts, ends


def strip_fields(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Trim spaces and one pair of surrounding double quotes from field bounds."""
    starts, ends = starts.copy(), ends.copy()
    for _ in range(2):
        lead = (starts < ends) & (buf[np.minimum(starts, buf.size - 1)] == SPACE)
        trail = (starts < ends) & (buf[np.maximum(ends - 1, 0)] == SPACE)
        starts += lead
        ends -= trail
    quoted = (ends - starts >= 2) & (buf[np.minimum(starts, buf.size - 1)] == QUOTE)
    quoted &= buf[np.maximum(ends - 1, 0)] == QUOTE
    return starts + quoted, ends - quoted


def digit_fields(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, max_width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer value, all-digits flag and width of variable-width digit fields."""
    width = ends - starts
    ok = (width >= 1) & (width <= max_width)
    value = np.zeros(starts.size, dtype=np.int64)
    last = buf.size - 1
    for k in range(max_width):
        position = starts + k
        inside = position < ends
        digit = buf[np.minimum(position, last)].astype(np.int64) - DIGIT_0
        ok &= ~inside | ((digit >= 0) & (digit <= 9))
        np.copyto(value, value * 10 + digit, where=inside & ok)
    return value, ok, width


def field_bounds(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, fields: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds of the ``fields`` comma-separated fields of each line; lines with another comma
    count are flagged. Fields are simple (no embedded commas) in every registry format."""
    commas = np.flatnonzero(buf == COMMA)
    first = np.searchsorted(commas, starts)
    count = np.searchsorted(commas, ends) - first
    ok = count == fields - 1
    field_starts = np.empty((starts.size, fields), np.int64)
    field_ends = np.empty((starts.size, fields), np.int64)
    field_starts[:, 0] = starts
    for index in range(fields - 1):
        position = (
            commas[np.minimum(first + index, max(commas.size - 1, 0))] if commas.size else starts
        )
        position = np.where(ok, position, ends)
        field_ends[:, index] = position
        field_starts[:, index + 1] = position + 1
    field_ends[:, fields - 1] = ends
    return field_starts, field_ends, ok
