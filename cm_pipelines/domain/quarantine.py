"""A landed row the platform refused: kept whole, with a reason, never silently dropped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuarantinedRow:
    """``detail`` says what is wrong and where (field names, line numbers), never a value;
    ``raw_record`` keeps the original text so nothing is lost and the row can be replayed."""

    source_file: str
    line_number: int
    reason_code: str
    detail: str
    raw_record: str
