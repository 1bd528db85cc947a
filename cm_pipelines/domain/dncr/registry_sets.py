"""Registry number sets: parsing registry files into sorted unique int64 E.164 arrays, change
lists, diffs, and the lookup structure washing relies on.

Sizes drive every choice here. The US registry holds about 250M numbers: one int64 each is 2 GB,
``phonenumbers`` (16k parses/s) would need hours, ``np.unique`` and ``np.isin`` are far too slow
(see DESIGN.md). So parsers work on raw bytes with numpy (a file is never split into Python
strings unless a line is malformed), sets are sorted once and de-duplicated with an
adjacent-difference mask, and lookups go through ``NumberIndex``: a bitmap per block of ten
million consecutive numbers (one NANP area code), i.e. one random memory access per lookup.

Bad lines are counted exactly and kept (up to ``keep_bad``) for the quarantine; their text is
personal data and is never put into an exception message.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import phonenumbers

NEWLINE, CARRIAGE_RETURN, COMMA, QUOTE, SPACE = 10, 13, 44, 34, 32
DIGIT_0 = 48
MAX_E164_DIGITS = 15
DEFAULT_KEEP_BAD = 1000
FTC_AREA_DIGITS, FTC_SUBSCRIBER_DIGITS = 3, 7
CHUNK_BYTES = 32 << 20
BLOCK = 10_000_000
"""Numbers per lookup block: one NANP area code, one AU ``4x`` mobile range."""
POW10 = np.array([10**k for k in range(19)], dtype=np.int64)
EPOCH_DAY = np.datetime64("1970-01-01", "D")


class UnreadableFileError(ValueError):
    """A whole file could not be read (corrupt or truncated zip, wrong header); ``reason_code``
    names why, the message never quotes the content."""

    def __init__(self, reason_code: str, detail: str):
        self.reason_code = reason_code
        self.detail = detail
        super().__init__(f"{reason_code}: {detail}")


@dataclass(frozen=True)
class BadLine:
    line_number: int
    reason_code: str
    raw: str


@dataclass
class ParsedNumbers:
    """Numbers of one or more files: ``numbers`` sorted unique int64 E.164 digits."""

    numbers: np.ndarray
    lines_read: int = 0
    bad_line_count: int = 0
    bad_lines: list[tuple[str, BadLine]] = field(default_factory=list)
    duplicate_count: int = 0
    blank_lines: int = 0

    @property
    def bad_line_ratio(self) -> float:
        return self.bad_line_count / self.lines_read if self.lines_read else 0.0


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


def empty_numbers() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


def empty_wash_results() -> WashResultSet:
    return WashResultSet(empty_numbers(), np.empty(0, bool), np.empty(0, "datetime64[D]"))


def _to_date(value: np.datetime64) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + int(value.astype(np.int64)))


# --------------------------------------------------------------------------- sorting and sets


def is_strictly_increasing(values: np.ndarray) -> bool:
    return bool(values.size < 2 or np.all(values[1:] > values[:-1]))


def sorted_unique(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Sorted unique int64 and the number of duplicates dropped.

    ``np.sort`` plus an adjacent-difference mask: ~100x faster than ``np.unique`` on registry
    sizes. Already-sorted input (per-area-code files read in order) skips the sort, which is
    not adaptive. Sorts ``values`` in place when it has to sort.
    """
    values = np.asarray(values, dtype=np.int64)
    if values.size < 2:
        return values, 0
    if not is_strictly_increasing(values):
        if not bool(np.all(values[1:] >= values[:-1])):
            values.sort()
        keep = np.empty(values.size, dtype=bool)
        keep[0] = True
        np.not_equal(values[1:], values[:-1], out=keep[1:])
        unique = values[keep]
        return unique, int(values.size - unique.size)
    return values, 0


def union_sorted(parts: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """Union of int64 arrays (each any order) as one sorted unique array, duplicates counted."""
    parts = [part for part in parts if part.size]
    if not parts:
        return empty_numbers(), 0
    if len(parts) == 1:
        return sorted_unique(parts[0])  # callers hand over arrays they own
    ordered = sorted(parts, key=lambda part: int(part[0]))
    merged = np.concatenate(ordered)
    return sorted_unique(merged)


def membership(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """``needles`` found in sorted unique ``haystack`` (sorted needles make this cache-friendly)."""
    if not haystack.size or not needles.size:
        return np.zeros(needles.size, dtype=bool)
    if haystack.size >= NumberIndex.DENSE_MIN_COUNT and needles.size >= 1_000_000:
        return NumberIndex(haystack).contains(needles)
    positions = np.searchsorted(haystack, needles)
    np.minimum(positions, haystack.size - 1, out=positions)
    return haystack[positions] == needles


def block_groups(
    numbers: np.ndarray, block: int = BLOCK, max_walk: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of one block key (``n // block``) in a sorted array.

    Registry-sized sets span a few hundred blocks: those are walked with ``searchsorted``
    (no 2 GB array of keys); a set spread over very many blocks is scanned in chunks.
    """
    if not numbers.size:
        empty = np.empty(0, np.int64)
        return empty, empty
    starts: list[int] = []
    position = 0
    while position < numbers.size and len(starts) < max_walk:
        starts.append(position)
        key = int(numbers[position]) // block
        position = int(np.searchsorted(numbers, (key + 1) * block, side="left"))
    if position < numbers.size:
        found = [np.zeros(1, np.int64)]
        step = 1 << 22
        for offset in range(0, numbers.size, step):
            first = max(offset - 1, 0)
            keys = numbers[first : offset + step] // block
            found.append(np.flatnonzero(keys[1:] != keys[:-1]) + 1 + first)
        group_starts = np.unique(np.concatenate(found))
    else:
        group_starts = np.array(starts, dtype=np.int64)
    return group_starts, np.concatenate((group_starts[1:], [numbers.size])).astype(np.int64)


DIFF_BLOCK_MIN = 1_000_000
"""Below this many numbers a diff uses ``searchsorted``; above, per-block scratch tables."""


def diff_sorted(previous: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(added, removed): numbers of ``current`` not in ``previous`` and the reverse.

    Large sets are compared block by block: the numbers of one block of the previous version
    are marked in a reusable 10M-entry table and the current block's numbers looked up in it
    (sequential, cache-friendly), and the reverse.
    """
    if not previous.size or not current.size:  # a first version: no copy of 2 GB
        return current, previous
    if previous.size + current.size < DIFF_BLOCK_MIN:
        return (
            current[~membership(previous, current)],
            previous[~membership(current, previous)],
        )
    old_starts, old_ends = block_groups(previous)
    new_starts, new_ends = block_groups(current)
    if old_starts.size + new_starts.size > 20_000:  # very sparse: the index does better
        return (
            current[~membership(previous, current)],
            previous[~membership(current, previous)],
        )
    old_runs_map = {
        int(previous[s]) // BLOCK: (s, e)
        for s, e in zip(old_starts.tolist(), old_ends.tolist(), strict=True)
    }
    new_runs_map = {
        int(current[s]) // BLOCK: (s, e)
        for s, e in zip(new_starts.tolist(), new_ends.tolist(), strict=True)
    }
    scratch = np.zeros(BLOCK, dtype=bool)
    added: list[np.ndarray] = []
    removed: list[np.ndarray] = []
    for key in sorted(set(old_runs_map) | set(new_runs_map)):
        old = previous[slice(*old_runs_map[key])] if key in old_runs_map else empty_numbers()
        new = current[slice(*new_runs_map[key])] if key in new_runs_map else empty_numbers()
        if not old.size or not new.size:
            added.append(new)
            removed.append(old)
            continue
        old_offsets = old - key * BLOCK
        new_offsets = new - key * BLOCK
        scratch[old_offsets] = True
        in_old = scratch[new_offsets]
        scratch[old_offsets] = False
        scratch[new_offsets] = True
        in_new = scratch[old_offsets]
        scratch[new_offsets] = False
        added.append(new[~in_old])
        removed.append(old[~in_new])
    return np.concatenate(added), np.concatenate(removed)


@dataclass(frozen=True)
class ChangeApplication:
    numbers: np.ndarray
    additions_applied: int
    deletions_applied: int
    additions_already_present: int
    deletions_not_present: int
    conflicts: int


def apply_changes(
    base: np.ndarray, additions: np.ndarray, deletions: np.ndarray
) -> ChangeApplication:
    """Apply a change list to a sorted unique set.

    A number both added and deleted by the same change list counts as a conflict and stays
    listed: wrongly keeping a number blocks a call, wrongly dropping it allows an illegal one.
    """
    conflict = membership(additions, deletions)
    deletions = deletions[~conflict]
    delete_mask = membership(deletions, base)
    kept = base[~delete_mask]
    new_mask = ~membership(base, additions)
    fresh = additions[new_mask]
    numbers, _ = union_sorted([kept, fresh]) if fresh.size else (kept, 0)
    return ChangeApplication(
        numbers=numbers,
        additions_applied=int(fresh.size),
        deletions_applied=int(np.count_nonzero(delete_mask)),
        additions_already_present=int(additions.size - fresh.size),
        deletions_not_present=int(deletions.size - np.count_nonzero(delete_mask)),
        conflicts=int(np.count_nonzero(conflict)),
    )


# --------------------------------------------------------------------------- byte-level parsing


def _chunks(buf: np.ndarray, chunk_bytes: int) -> Iterable[tuple[int, int]]:
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


def _line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without ``\\r\\n``) of every line of a chunk."""
    newlines = np.flatnonzero(buf == NEWLINE)
    starts = np.concatenate((np.zeros(1, np.int64), newlines + 1))
    ends = np.concatenate((newlines, np.array([buf.size], np.int64)))
    if starts[-1] == buf.size:  # the chunk ends with a newline: no trailing segment
        starts, ends = starts[:-1], ends[:-1]
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == CARRIAGE_RETURN)
    ends = ends - has_cr
    return starts, ends


def _strip_fields(
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


def _digits(
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


def _field_bounds(
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


class _BadLineCollector:
    """Counts bad lines and keeps the first ``keep`` with their text for the quarantine."""

    def __init__(self, source: str, keep: int):
        self.source = source
        self.keep = keep
        self.count = 0
        self.kept: list[tuple[str, BadLine]] = []

    def add(
        self,
        buf: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        line_numbers: np.ndarray,
        reasons: np.ndarray | str,
    ) -> None:
        self.count += int(starts.size)
        room = self.keep - len(self.kept)
        for index in range(min(room, starts.size)):
            raw = bytes(buf[starts[index] : ends[index]][:200]).decode("utf-8", "replace")
            reason = reasons if isinstance(reasons, str) else str(reasons[index])
            self.kept.append((self.source, BadLine(int(line_numbers[index]), reason, raw)))


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
    collector = _BadLineCollector(source, keep_bad)
    kept: list[np.ndarray] = []
    deleted: list[np.ndarray] = []
    lines_read = blank = 0
    line_offset = 0
    for start, end in _chunks(buf, CHUNK_BYTES):
        chunk = buf[start:end]
        rows = None if with_actions else _ftc_fixed_width(chunk)
        if rows is not None:
            values, ok = _fixed_width_values(rows)
            lines_read += rows.shape[0]
            if not bool(ok.all()):
                bad = np.flatnonzero(~ok)
                width = rows.shape[1]
                collector.add(
                    chunk, bad * width, bad * width + 11, bad + line_offset + 1, "non_digit"
                )
                values = values[ok]
            kept.append(values + calling_code * POW10[10])
            line_offset += rows.shape[0]
            continue
        starts, ends = _line_bounds(chunk)
        line_numbers = np.arange(starts.size, dtype=np.int64) + line_offset + 1
        line_offset += starts.size
        is_blank = ends <= starts
        blank += int(np.count_nonzero(is_blank))
        starts, ends, line_numbers = starts[~is_blank], ends[~is_blank], line_numbers[~is_blank]
        lines_read += starts.size
        fields = 3 if with_actions else 2
        field_starts, field_ends, shape_ok = _field_bounds(chunk, starts, ends, fields)
        area_s, area_e = _strip_fields(chunk, field_starts[:, 0], field_ends[:, 0])
        sub_s, sub_e = _strip_fields(chunk, field_starts[:, 1], field_ends[:, 1])
        area, area_ok, area_width = _digits(chunk, area_s, area_e, 12)
        subscriber, sub_ok, sub_width = _digits(chunk, sub_s, sub_e, 12)
        length_ok = (area_width == FTC_AREA_DIGITS) & (sub_width == FTC_SUBSCRIBER_DIGITS)
        reasons = np.full(starts.size, "", dtype=object)
        reasons[~length_ok] = "wrong_length"
        reasons[~(area_ok & sub_ok)] = "non_digit"
        reasons[~shape_ok] = "wrong_field_count"
        is_deletion = np.zeros(starts.size, dtype=bool)
        if with_actions:
            act_s, act_e = _strip_fields(chunk, field_starts[:, 2], field_ends[:, 2])
            first = chunk[np.minimum(act_s, chunk.size - 1)] | 0x20  # lower-case letter
            single = act_e - act_s == 1
            word = act_e - act_s > 1
            is_addition = (single | word) & (first == ord("a"))
            is_deletion = (single | word) & (first == ord("d"))
            action_ok = is_addition | is_deletion
            reasons[(reasons == "") & ~action_ok] = "unknown_action"
        good = reasons == ""
        if not bool(good.all()):
            bad = ~good
            collector.add(chunk, starts[bad], ends[bad], line_numbers[bad], reasons[bad])
        e164 = calling_code * POW10[10] + area * POW10[FTC_SUBSCRIBER_DIGITS] + subscriber
        kept.append(e164[good & ~is_deletion])
        if with_actions:
            deleted.append(e164[good & is_deletion])
    numbers, duplicates = union_sorted(kept)
    parsed = ParsedNumbers(numbers, lines_read, collector.count, collector.kept, duplicates, blank)
    if not with_actions:
        return parsed, None
    deletions, deletion_duplicates = union_sorted(deleted)
    return parsed, ParsedNumbers(deletions, 0, 0, [], deletion_duplicates, 0)


def combine(parts: Sequence[ParsedNumbers]) -> ParsedNumbers:
    """One set from many files (a full download is one file per area code)."""
    numbers, duplicates = union_sorted([part.numbers for part in parts])
    return ParsedNumbers(
        numbers=numbers,
        lines_read=sum(part.lines_read for part in parts),
        bad_line_count=sum(part.bad_line_count for part in parts),
        bad_lines=[line for part in parts for line in part.bad_lines],
        duplicate_count=duplicates + sum(part.duplicate_count for part in parts),
        blank_lines=sum(part.blank_lines for part in parts),
    )


MAX_UNZIPPED_BYTES = 1 << 30
"""What one registry zip may expand to (1 GiB; the largest US area code is about 100 MB of
text): a zip bomb is refused as unreadable instead of exhausting the worker's memory."""


def read_zip_members(
    data: bytes,
    *,
    suffixes: tuple[str, ...] = (".txt", ".csv"),
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
) -> list[tuple[str, bytes]]:
    """Members of a zip (CRC-checked). A truncated or corrupt archive, or one that expands to
    more than ``max_unzipped_bytes``, raises ``UnreadableFileError``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir() and info.filename.lower().endswith(suffixes)
            ]
            if not members:
                raise UnreadableFileError("empty_archive", "the zip holds no .txt or .csv member")
            payloads: list[tuple[str, bytes]] = []
            remaining = max_unzipped_bytes
            for info in members:
                if info.file_size > remaining:
                    raise _too_large(max_unzipped_bytes)
                with archive.open(info) as handle:
                    # never trust the declared size alone: read at most one byte past the budget
                    payload = handle.read(remaining + 1)
                if len(payload) > remaining:
                    raise _too_large(max_unzipped_bytes)
                remaining -= len(payload)
                payloads.append((info.filename, payload))
            return payloads
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise UnreadableFileError(
            "unreadable_archive", f"zip could not be read ({type(exc).__name__})"
        ) from exc


def _too_large(limit: int) -> UnreadableFileError:
    return UnreadableFileError("archive_too_large", f"the zip expands to more than {limit} bytes")


def file_payloads(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """The text payloads of a landed registry file: zip members, or the file itself."""
    if name.lower().endswith(".zip"):
        return read_zip_members(data)
    return [(name, data)]


def change_list_action(name: str) -> str | None:
    """``additions``/``deletions`` from a change-list file name, else None (lines carry A/D)."""
    stem = name.rsplit("/", 1)[-1].lower()
    if "deletion" in stem or "_del" in stem or "removal" in stem:
        return "deletions"
    if "addition" in stem or "_add" in stem:
        return "additions"
    return None


# --------------------------------------------------------------------------- CSV formats


def _header(buf: np.ndarray, source: str) -> tuple[list[str], int]:
    """Column names of the first line and the byte offset where data lines start."""
    newline = np.flatnonzero(buf[: 1 << 16] == NEWLINE)
    end = int(newline[0]) if newline.size else buf.size
    text = bytes(buf[:end]).decode("utf-8", "replace").lstrip("\ufeff").strip()
    names = [name.strip().strip('"').strip().lower() for name in text.split(",")]
    return names, (end + 1 if newline.size else buf.size)


def _pick(names: list[str], candidates: tuple[str, ...]) -> int | None:
    for candidate in candidates:
        if candidate in names:
            return names.index(candidate)
    return None


PHONE_COLUMNS = ("e164", "phone_number", "number", "phone", "msisdn")


def _data_lines(buf: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    starts, ends = _line_bounds(buf[offset:])
    line_numbers = np.arange(starts.size, dtype=np.int64) + 2
    is_blank = ends <= starts
    return (
        starts[~is_blank] + offset,
        ends[~is_blank] + offset,
        line_numbers[~is_blank],
        int(np.count_nonzero(is_blank)),
    )


def _e164_field(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, calling_code: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """E.164 digits with or without ``+``; with ``calling_code`` the number must carry it."""
    starts, ends = _strip_fields(buf, starts, ends)
    plus = (starts < ends) & (buf[np.minimum(starts, buf.size - 1)] == ord("+"))
    value, ok, width = _digits(buf, starts + plus, ends, MAX_E164_DIGITS)
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
    names, offset = _header(buf, source)
    column = _pick(names, PHONE_COLUMNS)
    if column is None:
        raise UnreadableFileError("missing_column", "header has no e164/phone_number column")
    starts, ends, line_numbers, blank = _data_lines(buf, offset)
    field_starts, field_ends, shape_ok = _field_bounds(buf, starts, ends, len(names))
    value, ok = _e164_field(buf, field_starts[:, column], field_ends[:, column], calling_code)
    collector = _BadLineCollector(source, keep_bad)
    good = shape_ok & ok
    if not bool(good.all()):
        bad = ~good
        reasons = np.where(shape_ok[bad], "not_e164", "wrong_field_count")
        collector.add(buf, starts[bad], ends[bad], line_numbers[bad], reasons)
    numbers, duplicates = sorted_unique(value[good])
    return ParsedNumbers(
        numbers, int(starts.size), collector.count, collector.kept, duplicates, blank
    )


_YES = (b"Y", b"YES", b"TRUE", b"1", b"REGISTERED")
_NO = (b"N", b"NO", b"FALSE", b"0", b"NOT REGISTERED")
REGISTERED_COLUMNS = ("registered", "status", "on_register")
WASH_DATE_COLUMNS = ("wash_date", "washed_on", "date")


def _flag_field(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Registered flag: Y/N, yes/no, true/false, 1/0 (any case)."""
    starts, ends = _strip_fields(buf, starts, ends)
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
    starts, ends = _strip_fields(buf, starts, ends)
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
    names, offset = _header(buf, source)
    phone_column = _pick(names, PHONE_COLUMNS)
    flag_column = _pick(names, REGISTERED_COLUMNS)
    date_column = _pick(names, WASH_DATE_COLUMNS)
    if phone_column is None or flag_column is None or date_column is None:
        raise UnreadableFileError(
            "missing_column", "header must name phone_number, registered and wash_date columns"
        )
    starts, ends, line_numbers, blank = _data_lines(buf, offset)
    field_starts, field_ends, shape_ok = _field_bounds(buf, starts, ends, len(names))
    number, number_ok = _e164_field(
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
    collector = _BadLineCollector(source, keep_bad)
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


# --------------------------------------------------------------------------- validity and hashes


@dataclass(frozen=True)
class CountryValidity:
    """Numbers a registry of ``region`` cannot hold (``valid`` mask aligned with the input)."""

    valid: np.ndarray
    groups_checked: int

    @property
    def invalid_count(self) -> int:
        return int(self.valid.size - np.count_nonzero(self.valid))


VALIDITY_PREFIX_DIGITS = 6


def _valid_for_region(calling_code: int, national: int, region: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=calling_code, national_number=national)
    return bool(phonenumbers.is_valid_number_for_region(number, region))


def _distinct_prefixes(block: np.ndarray, low: int, cut: int) -> np.ndarray:
    """Sorted distinct ``(n - low) // cut`` of a sorted block, computed in chunks."""
    found: list[np.ndarray] = []
    step = 1 << 22
    for offset in range(0, block.size, step):
        keys = (block[offset : offset + step] - low) // cut
        keep = np.empty(keys.size, bool)
        keep[0] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        found.append(keys[keep])
    prefixes, _ = sorted_unique(np.concatenate(found))
    return prefixes


def country_validity(numbers: np.ndarray, region: str) -> CountryValidity:
    """Which sorted unique E.164 integers are valid numbers of ``region``.

    Calling ``phonenumbers`` per number would take hours at 250M, so numbers are grouped by
    national length and first six national digits (NANP: area code and exchange, the level the
    numbering plan allocates at) and the first and last number of each group are checked; only
    a group whose two ends disagree is checked number by number. Numbers of one national length
    with the region's calling code form one contiguous range of the sorted array.
    """
    valid = np.zeros(numbers.size, bool)
    if not numbers.size:
        return CountryValidity(valid, 0)
    calling_code = int(phonenumbers.country_code_for_region(region))
    groups = 0
    for national_width in range(1, MAX_E164_DIGITS - len(str(calling_code)) + 1):
        low = calling_code * 10**national_width
        high = (calling_code + 1) * 10**national_width
        begin, finish = (int(i) for i in np.searchsorted(numbers, [low, high]))
        if begin == finish:
            continue
        block = numbers[begin:finish]
        cut = 10 ** max(national_width - VALIDITY_PREFIX_DIGITS, 0)
        prefixes = _distinct_prefixes(block, low, cut)
        starts = np.searchsorted(block, low + prefixes * cut).tolist()
        ends = starts[1:] + [block.size]
        groups += len(starts)
        for start, end in zip(starts, ends, strict=True):
            first = _valid_for_region(calling_code, int(block[start]) - low, region)
            last = _valid_for_region(calling_code, int(block[end - 1]) - low, region)
            if first and last:
                valid[begin + start : begin + end] = True
            elif first or last:
                for index in range(start, end):
                    national = int(block[index]) - low
                    valid[begin + index] = _valid_for_region(calling_code, national, region)
    return CountryValidity(valid, groups)


def content_hash(*arrays: np.ndarray, header: str = "") -> str:
    """sha256 over a header and the arrays' little-endian bytes: equal content, equal hash."""
    digest = hashlib.sha256(header.encode("utf-8"))
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        if contiguous.dtype.byteorder == ">":
            contiguous = contiguous.byteswap()
        digest.update(str(contiguous.dtype.str).encode())
        digest.update(memoryview(contiguous.view(np.uint8)))  # type: ignore[arg-type]
    return digest.hexdigest()


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


# --------------------------------------------------------------------------- the lookup index


class NumberIndex:
    """Membership (and position) lookups against a sorted unique int64 set, ~one memory access each.

    Numbers are split into blocks of ``BLOCK`` consecutive values (10M: one NANP area code, one
    AU ``4x`` mobile range). A block holding at least ``BLOCK / 64`` numbers becomes a bitmap
    (1.25 MB, no larger than its numbers as int64); sparser blocks stay a sorted array searched
    with ``np.searchsorted``. Memory is therefore at most ~8 bytes per number, and a dense US
    registry of 250M numbers over ~300 area codes needs ~0.4 GB. A small table maps a block key
    to its bitmap slot, so a lookup is a division, a table read and one bitmap read.
    """

    BLOCK = BLOCK
    BLOCK_BYTES = BLOCK // 8
    DENSE_MIN_COUNT = BLOCK // 64
    LOOKUP_CHUNK = 1 << 20
    MAX_TABLE = 1 << 24

    def __init__(self, numbers: np.ndarray):
        numbers = np.asarray(numbers, dtype=np.int64)
        self.size = int(numbers.size)
        group_starts, group_ends = self._groups(numbers)
        group_keys = numbers[group_starts] // self.BLOCK
        dense = (group_ends - group_starts) >= self.DENSE_MIN_COUNT
        self.dense_keys = group_keys[dense]
        self.dense_starts = group_starts[dense]
        self.bitmap = np.zeros(int(dense.sum()) * self.BLOCK_BYTES, dtype=np.uint8)
        scratch = np.zeros(self.BLOCK, dtype=bool) if dense.any() else None
        for slot, (start, end, key) in enumerate(
            zip(
                group_starts[dense].tolist(),
                group_ends[dense].tolist(),
                self.dense_keys.tolist(),
                strict=True,
            )
        ):
            assert scratch is not None
            offsets = numbers[start:end] - key * self.BLOCK
            scratch[:] = False
            scratch[offsets] = True
            self.bitmap[slot * self.BLOCK_BYTES : (slot + 1) * self.BLOCK_BYTES] = np.packbits(
                scratch, bitorder="little"
            )
        sparse_parts = [
            np.arange(start, end, dtype=np.int64)
            for start, end in zip(
                group_starts[~dense].tolist(), group_ends[~dense].tolist(), strict=True
            )
        ]
        self.sparse_positions = (
            np.concatenate(sparse_parts) if sparse_parts else np.empty(0, np.int64)
        )
        self.sparse_numbers = numbers[self.sparse_positions]
        self.key_min = int(self.dense_keys[0]) if self.dense_keys.size else 0
        span = int(self.dense_keys[-1]) - self.key_min + 1 if self.dense_keys.size else 0
        self._table: np.ndarray | None = None
        if 0 < span <= self.MAX_TABLE:
            self._table = np.full(span, -1, dtype=np.int32)
            self._table[self.dense_keys - self.key_min] = np.arange(
                self.dense_keys.size, dtype=np.int32
            )
        self._word_ranks: np.ndarray | None = None

    @classmethod
    def _groups(cls, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return block_groups(numbers, cls.BLOCK)

    @property
    def nbytes(self) -> int:
        """Resident size of the structure (bitmaps, sparse arrays, tables)."""
        total = self.bitmap.nbytes + self.sparse_numbers.nbytes + self.sparse_positions.nbytes
        total += self.dense_keys.nbytes + self.dense_starts.nbytes
        total += self._table.nbytes if self._table is not None else 0
        total += self._word_ranks.nbytes if self._word_ranks is not None else 0
        return int(total)

    @property
    def dense_blocks(self) -> int:
        return int(self.dense_keys.size)

    def _slots(self, queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Bitmap slot of each query's block, -1 when its block is not a bitmap."""
        if not self.dense_keys.size:
            return np.full(queries.size, -1, np.int32)
        if self._table is not None:
            relative = keys - self.key_min
            inside = (relative >= 0) & (relative < self._table.size)
            slots = self._table[np.clip(relative, 0, self._table.size - 1)]
            return np.where(inside, slots, -1).astype(np.int32, copy=False)
        found = np.searchsorted(self.dense_keys, keys)
        found = np.minimum(found, self.dense_keys.size - 1)
        return np.where(self.dense_keys[found] == keys, found, -1).astype(np.int32)

    def _bit_positions(
        self, queries: np.ndarray, keys: np.ndarray, slots: np.ndarray
    ) -> np.ndarray:
        return np.maximum(slots, 0).astype(np.int64) * self.BLOCK + (queries - keys * self.BLOCK)

    def contains(self, queries: np.ndarray) -> np.ndarray:
        """Whether each query is in the set (bool array aligned with ``queries``)."""
        queries = np.asarray(queries, dtype=np.int64)
        result = np.empty(queries.size, dtype=bool)
        for start in range(0, queries.size, self.LOOKUP_CHUNK):
            chunk = queries[start : start + self.LOOKUP_CHUNK]
            keys = chunk // self.BLOCK
            slots = self._slots(chunk, keys)
            bits = self._bit_positions(chunk, keys, slots)
            found = (
                (self.bitmap[bits >> 3] >> (bits & 7).astype(np.uint8)) & 1
                if self.bitmap.size
                else np.zeros(chunk.size, np.uint8)
            )
            hit = found.astype(bool) & (slots >= 0)
            if self.sparse_numbers.size:
                outside = slots < 0
                if outside.any():
                    candidates = chunk[outside]
                    position = np.minimum(
                        np.searchsorted(self.sparse_numbers, candidates),
                        self.sparse_numbers.size - 1,
                    )
                    hit[outside] = self.sparse_numbers[position] == candidates
            result[start : start + chunk.size] = hit
        return result

    def _ranks(self) -> np.ndarray:
        """Set bits before each 64-bit word, counted from its block's start (built on demand)."""
        if self._word_ranks is None:
            words = self.bitmap.view(np.uint64).reshape(max(self.dense_blocks, 0), -1)
            counts = np.bitwise_count(words).astype(np.uint32)
            ranks = np.cumsum(counts, axis=1, dtype=np.uint32) - counts
            self._word_ranks = ranks.reshape(-1)
        return self._word_ranks

    def positions(self, queries: np.ndarray) -> np.ndarray:
        """Index of each query in the sorted set the index was built from, -1 when absent."""
        queries = np.asarray(queries, dtype=np.int64)
        result = np.full(queries.size, -1, dtype=np.int64)
        contained = self.contains(queries)
        if not contained.any():
            return result
        hits = queries[contained]
        keys = hits // self.BLOCK
        slots = self._slots(hits, keys)
        out = np.full(hits.size, -1, dtype=np.int64)
        in_bitmap = slots >= 0
        if in_bitmap.any():
            bits = self._bit_positions(hits[in_bitmap], keys[in_bitmap], slots[in_bitmap])
            words = self.bitmap.view(np.uint64)
            word_index = bits >> 6
            below = (np.uint64(1) << (bits & 63).astype(np.uint64)) - np.uint64(1)
            within = np.bitwise_count(words[word_index] & below).astype(np.int64)
            out[in_bitmap] = (
                self.dense_starts[slots[in_bitmap]]
                + self._ranks()[word_index].astype(np.int64)
                + within
            )
        if (~in_bitmap).any():
            sparse_hits = hits[~in_bitmap]
            found = np.searchsorted(self.sparse_numbers, sparse_hits)
            out[~in_bitmap] = self.sparse_positions[found]
        result[contained] = out
        return result
