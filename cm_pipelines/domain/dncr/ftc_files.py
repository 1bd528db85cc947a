"""FTC flat files: ``areacode,number`` lines (3 + 7 NANP digits), parsed into E.164 integers
and, for tests and benchmarks, written back."""

from __future__ import annotations

import numpy as np

from cm_pipelines.domain.dncr.byte_fields import (
    CARRIAGE_RETURN,
    COMMA,
    DIGIT_0,
    NEWLINE,
    POW10,
    chunk_bounds,
    digit_fields,
    field_bounds,
    line_bounds,
    strip_fields,
)
from cm_pipelines.domain.dncr.number_sets import union_sorted
from cm_pipelines.domain.dncr.parsed_numbers import (
    DEFAULT_KEEP_BAD,
    BadLineCollector,
    ParsedNumbers,
)

FTC_AREA_DIGITS, FTC_SUBSCRIBER_DIGITS = 3, 7
CHUNK_BYTES = 32 << 20


def _ftc_fixed_width(chunk: np.ndarray) -> np.ndarray | None:
    """``AAA,NNNNNNN\\n`` (or ``\\r\\n``) lines as a (lines, width) view, when every line has it."""
    for width in (12, 13):
        if chunk.size % width or not chunk.size:
            continue
        rows = chunk.reshape(-1, width)
        if not (np.all(rows[:, -1] == NEWLINE) and np.all(rows[:, 3] == COMMA)):
            continue
        if width == 13 and not np.all(rows[:, 11] == CARRIAGE_RETURN):
            continue
        if int(np.count_nonzero(chunk == NEWLINE)) != rows.shape[0]:
            continue
        return rows
    return None


def _fixed_width_values(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 10 digits of fixed-width FTC rows: one gather, then arithmetic on compact arrays
    (a byte below '0' wraps around in uint8, so one comparison checks both bounds)."""
    digits = rows[:, [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]] - np.uint8(DIGIT_0)
    ok = np.all(digits <= 9, axis=1)
    value = digits[:, 0].astype(np.int64)
    for column in range(1, 10):
        value *= 10
        value += digits[:, column]
    return value, ok


def parse_ftc_lines(
    data: bytes,
    *,
    calling_code: int = 1,
    source: str = "",
    keep_bad: int = DEFAULT_KEEP_BAD,
    with_actions: bool = False,
) -> tuple[ParsedNumbers, ParsedNumbers | None]:
    """FTC flat-file body (``areacode,number`` per line: 3 + 7 NANP digits) as E.164 integers.

    With ``with_actions`` lines carry a third field ``A``/``D`` (addition/deletion); the second
    result then holds the deletions. Blank lines are counted, not treated as bad; a last line
    cut short (a truncated download) is a bad line.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    reader = _FtcReader(calling_code, BadLineCollector(source, keep_bad), with_actions)
    for start, end in chunk_bounds(buf, CHUNK_BYTES):
        chunk = buf[start:end]
        rows = None if with_actions else _ftc_fixed_width(chunk)
        if rows is not None:
            reader.read_fixed_width(chunk, rows)
        else:
            reader.read_lines(chunk)
    return reader.result()


class _FtcReader:
    """The numbers, counts and bad lines of an FTC body read chunk by chunk; line numbers run
    on across chunks."""

    def __init__(self, calling_code: int, collector: BadLineCollector, with_actions: bool):
        self.calling_code = calling_code
        self.collector = collector
        self.with_actions = with_actions
        self.kept: list[np.ndarray] = []
        self.deleted: list[np.ndarray] = []
        self.lines_read = self.blank = 0
        self.line_offset = 0

    def read_fixed_width(self, chunk: np.ndarray, rows: np.ndarray) -> None:
        """The fast path: every line of the chunk is ``AAA,NNNNNNN``."""
        values, ok = _fixed_width_values(rows)
        self.lines_read += rows.shape[0]
        if not bool(ok.all()):
            bad = np.flatnonzero(~ok)
            width = rows.shape[1]
            self.collector.add(
                chunk, bad * width, bad * width + 11, bad + self.line_offset + 1, "non_digit"
            )
            values = values[ok]
        self.kept.append(values + self.calling_code * POW10[10])
        self.line_offset += rows.shape[0]

    def read_lines(self, chunk: np.ndarray) -> None:
        """Any other chunk: lines and fields found one by one, each bad line with its reason."""
        starts, ends = line_bounds(chunk)
        line_numbers = np.arange(starts.size, dtype=np.int64) + self.line_offset + 1
        self.line_offset += starts.size
        is_blank = ends <= starts
        self.blank += int(np.count_nonzero(is_blank))
        starts, ends, line_numbers = starts[~is_blank], ends[~is_blank], line_numbers[~is_blank]
        self.lines_read += starts.size
        e164, reasons, is_deletion = self._judge_lines(chunk, starts, ends)
        good = reasons == ""
        if not bool(good.all()):
            bad = ~good
            self.collector.add(chunk, starts[bad], ends[bad], line_numbers[bad], reasons[bad])
        self.kept.append(e164[good & ~is_deletion])
        if self.with_actions:
            self.deleted.append(e164[good & is_deletion])

    def _judge_lines(
        self, chunk: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each line's E.164 value, its bad-line reason ("" when good) and deletion flag."""
        fields = 3 if self.with_actions else 2
        field_starts, field_ends, shape_ok = field_bounds(chunk, starts, ends, fields)
        area_s, area_e = strip_fields(chunk, field_starts[:, 0], field_ends[:, 0])
        sub_s, sub_e = strip_fields(chunk, field_starts[:, 1], field_ends[:, 1])
        area, area_ok, area_width = digit_fields(chunk, area_s, area_e, 12)
        subscriber, sub_ok, sub_width = digit_fields(chunk, sub_s, sub_e, 12)
        length_ok = (area_width == FTC_AREA_DIGITS) & (sub_width == FTC_SUBSCRIBER_DIGITS)
        reasons = np.full(starts.size, "", dtype=object)
        reasons[~length_ok] = "wrong_length"
        reasons[~(area_ok & sub_ok)] = "non_digit"
        reasons[~shape_ok] = "wrong_field_count"
        is_deletion = np.zeros(starts.size, dtype=bool)
        if self.with_actions:
            act_s, act_e = strip_fields(chunk, field_starts[:, 2], field_ends[:, 2])
            first = chunk[np.minimum(act_s, chunk.size - 1)] | 0x20  # lower-case letter
            single = act_e - act_s == 1
            word = act_e - act_s > 1
            is_addition = (single | word) & (first == ord("a"))
            is_deletion = (single | word) & (first == ord("d"))
            action_ok = is_addition | is_deletion
            reasons[(reasons == "") & ~action_ok] = "unknown_action"
        e164 = self.calling_code * POW10[10] + area * POW10[FTC_SUBSCRIBER_DIGITS] + subscriber
        return e164, reasons, is_deletion

    def result(self) -> tuple[ParsedNumbers, ParsedNumbers | None]:
        numbers, duplicates = union_sorted(self.kept)
        parsed = ParsedNumbers(
            numbers,
            self.lines_read,
            self.collector.count,
            self.collector.kept,
            duplicates,
            self.blank,
        )
        if not self.with_actions:
            return parsed, None
        deletions, deletion_duplicates = union_sorted(self.deleted)
        return parsed, ParsedNumbers(deletions, 0, 0, [], deletion_duplicates, 0)


def format_ftc_lines(numbers: np.ndarray, calling_code: int = 1) -> bytes:
    """FTC flat-file body for 10-digit national numbers (vectorised; tests and benchmarks)."""
    national = np.asarray(numbers, np.int64) - calling_code * POW10[10]
    rows = np.empty((national.size, 12), np.uint8)
    columns = (0, 1, 2, 4, 5, 6, 7, 8, 9, 10)
    for position, column in enumerate(columns):
        rows[:, column] = (national // POW10[9 - position]) % 10 + DIGIT_0
    rows[:, 3] = COMMA
    rows[:, 11] = NEWLINE
    return rows.tobytes()
