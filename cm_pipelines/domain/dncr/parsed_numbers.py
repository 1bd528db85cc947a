"""What parsing a registry file yields: its numbers, its line counts and its bad lines.

Bad lines are counted exactly and kept (up to ``keep_bad``) for the quarantine; their text is
personal data and is never put into an exception message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cm_pipelines.domain.dncr.number_sets import union_sorted

DEFAULT_KEEP_BAD = 1000


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


class BadLineCollector:
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
