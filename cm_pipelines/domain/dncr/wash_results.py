"""Wash results of a wash-only registry: the result files it returns
(``phone_number,registered,wash_date``) and the per-number result sets built from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from cm_pipelines.domain.dncr.byte_fields import DIGIT_0, field_bounds, strip_fields
from cm_pipelines.domain.dncr.e164_csv import (
    PHONE_COLUMNS,
    data_lines,
    e164_field,
    pick_column,
    read_header,
)
from cm_pipelines.domain.dncr.number_sets import empty_numbers
from cm_pipelines.domain.dncr.parsed_numbers import (
    DEFAULT_KEEP_BAD,
    BadLine,
    BadLineCollector,
    UnreadableFileError,
)

EPOCH_DAY = np.datetime64("1970-01-01", "D")


@dataclass
class WashResultSet:
    """Per-number results of a wash-only registry, aligned arrays sorted by ``numbers``.

    ``wash_days`` are ``datetime64[D]``; a number keeps its most recent result.
    """

    numbers: np.ndarray
    registered: np.ndarray
    wash_days: np.ndarray
    lines_read: int = 0
    bad_line_count: int = 0
    bad_lines: list[tuple[str, BadLine]] = field(default_factory=list)
    duplicate_count: int = 0
    blank_lines: int = 0

    def __len__(self) -> int:
        return int(self.numbers.size)

    @property
    def registered_count(self) -> int:
        return int(np.count_nonzero(self.registered))

    @property
    def newest_wash_day(self) -> date | None:
        if not self.wash_days.size:
            return None
        return _to_date(self.wash_days.max())


def empty_wash_results() -> WashResultSet:
    return WashResultSet(empty_numbers(), np.empty(0, bool), np.empty(0, "datetime64[D]"))


def _to_date(value: np.datetime64) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + int(value.astype(np.int64)))


_YES = (b"Y", b"YES", b"TRUE", b"1", b"REGISTERED")
_NO = (b"N", b"NO", b"FALSE", b"0", b"NOT REGISTERED")
REGISTERED_COLUMNS = ("registered", "status", "on_register")
WASH_DATE_COLUMNS = ("wash_date", "washed_on", "date")


def _flag_field(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Registered flag: Y/N, yes/no, true/false, 1/0 (any case)."""
    starts, ends = strip_fields(buf, starts, ends)
    width = 14
    length = ends - starts
    cells = np.zeros((starts.size, width), np.uint8)
    last = buf.size - 1
    for k in range(width):
        position = starts + k
        cells[:, k] = np.where(position < ends, buf[np.minimum(position, last)], 0)
    upper = np.where((cells >= ord("a")) & (cells <= ord("z")), cells - 32, cells).astype(np.uint8)
    yes = np.zeros(starts.size, bool)
    no = np.zeros(starts.size, bool)
    for words, target in ((_YES, yes), (_NO, no)):
        for word in words:
            pattern = np.zeros(width, np.uint8)
            pattern[: len(word)] = np.frombuffer(word, np.uint8)
            target |= (length == len(word)) & np.all(upper == pattern, axis=1)
    return yes, yes | no


def _date_field(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY-MM-DD`` as datetime64[D]; impossible dates (02-30) are flagged."""
    starts, ends = strip_fields(buf, starts, ends)
    ok = ends - starts == 10
    last = buf.size - 1

    def cell(offset: int) -> np.ndarray:
        return buf[np.minimum(starts + offset, last)]

    ok &= (cell(4) == ord("-")) & (cell(7) == ord("-"))

    def number(offsets: tuple[int, ...]) -> np.ndarray:
        nonlocal ok
        value = np.zeros(starts.size, np.int64)
        for offset in offsets:
            digit = cell(offset).astype(np.int64) - DIGIT_0
            ok &= (digit >= 0) & (digit <= 9)
            value = value * 10 + digit
        return value

    year, month, day = number((0, 1, 2, 3)), number((5, 6)), number((8, 9))
    ok &= (year >= 1970) & (year <= 9999) & (month >= 1) & (month <= 12) & (day >= 1)
    months = np.where(ok, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    first = months.astype("datetime64[D]")
    days_in_month = ((months + 1).astype("datetime64[D]") - first).astype(np.int64)
    ok &= day <= days_in_month
    return np.where(ok, first + (day - 1), EPOCH_DAY).astype("datetime64[D]"), ok


def parse_wash_results(
    data: bytes,
    *,
    calling_code: int | None = None,
    source: str = "",
    latest_day: date | None = None,
    keep_bad: int = DEFAULT_KEEP_BAD,
) -> WashResultSet:
    """A wash-only registry's result file: ``phone_number,registered,wash_date`` with a header.

    Numbers are E.164 digits with or without ``+``; with ``calling_code`` a number of another
    country is a bad line. A wash date after ``latest_day`` (a result from the future) is a bad
    line too. A number appearing twice keeps its latest result.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    if not buf.size:
        return empty_wash_results()
    names, offset = read_header(buf, source)
    phone_column = pick_column(names, PHONE_COLUMNS)
    flag_column = pick_column(names, REGISTERED_COLUMNS)
    date_column = pick_column(names, WASH_DATE_COLUMNS)
    if phone_column is None or flag_column is None or date_column is None:
        raise UnreadableFileError(
            "missing_column", "header must name phone_number, registered and wash_date columns"
        )
    starts, ends, line_numbers, blank = data_lines(buf, offset)
    field_starts, field_ends, shape_ok = field_bounds(buf, starts, ends, len(names))
    number, number_ok = e164_field(
        buf, field_starts[:, phone_column], field_ends[:, phone_column], calling_code
    )
    registered, flag_ok = _flag_field(buf, field_starts[:, flag_column], field_ends[:, flag_column])
    days, date_ok = _date_field(buf, field_starts[:, date_column], field_ends[:, date_column])
    future = np.zeros(starts.size, bool)
    if latest_day is not None:
        future = days > np.datetime64(latest_day.isoformat(), "D")
    reasons = np.full(starts.size, "", dtype=object)
    reasons[future] = "wash_date_in_future"
    reasons[~date_ok] = "bad_wash_date"
    reasons[~flag_ok] = "bad_registered_flag"
    reasons[~number_ok] = "not_e164"
    reasons[~shape_ok] = "wrong_field_count"
    good = reasons == ""
    collector = BadLineCollector(source, keep_bad)
    if not bool(good.all()):
        bad = ~good
        collector.add(buf, starts[bad], ends[bad], line_numbers[bad], reasons[bad])
    result = latest_per_number(number[good], registered[good], days[good])
    result.lines_read = int(starts.size)
    result.bad_line_count = collector.count
    result.bad_lines = collector.kept
    result.blank_lines = blank
    return result


def latest_per_number(
    numbers: np.ndarray, registered: np.ndarray, wash_days: np.ndarray
) -> WashResultSet:
    """One result per number, the most recent wash winning (a tie keeps ``registered``: the
    answer that blocks)."""
    if not numbers.size:
        return empty_wash_results()
    order = np.lexsort((registered, wash_days, numbers))
    numbers, registered, wash_days = numbers[order], registered[order], wash_days[order]
    last = np.empty(numbers.size, bool)
    last[-1] = True
    np.not_equal(numbers[1:], numbers[:-1], out=last[:-1])
    kept = WashResultSet(numbers[last], registered[last], wash_days[last])
    kept.duplicate_count = int(numbers.size - np.count_nonzero(last))
    return kept


def merge_wash_results(
    previous: WashResultSet | None, new: Sequence[WashResultSet]
) -> WashResultSet:
    """Previous results plus new ones, most recent per number: replaying an older file can never
    roll a number back."""
    parts = ([previous] if previous is not None else []) + list(new)
    parts = [part for part in parts if len(part)]
    if not parts:
        return empty_wash_results()
    merged = latest_per_number(
        np.concatenate([part.numbers for part in parts]),
        np.concatenate([part.registered for part in parts]),
        np.concatenate([part.wash_days for part in parts]),
    )
    for part in new:
        merged.lines_read += part.lines_read
        merged.bad_line_count += part.bad_line_count
        merged.bad_lines.extend(part.bad_lines)
        merged.blank_lines += part.blank_lines
    return merged
