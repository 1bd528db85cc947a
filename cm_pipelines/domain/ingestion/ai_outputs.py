"""AI summaries and receptionist notes: derived from a call, so they live and die with it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

AI_OUTPUT_KINDS: tuple[str, ...] = ("summary", "receptionist_note")
_REQUIRED = ("call_id", "kind", "model", "created_at", "text")
_LIMITS = {"call_id": 64, "model": 120, "created_at": 64}  # ai_outputs column widths
_CONTROL = tuple(chr(code) for code in (*range(0, 9), 11, 12, *range(14, 32), 127))
_FORBIDDEN = {key: ("\x00",) if key == "text" else _CONTROL for key in _REQUIRED}
"""Text may hold line breaks, never NUL (PostgreSQL refuses it); ids and labels no controls."""


class AiOutputFormatError(ValueError):
    """An AI output file was refused; the detail names the field, never its content."""

    def __init__(self, reason_code: str, detail: str):
        self.reason_code = reason_code
        self.detail = detail
        super().__init__(f"{reason_code}: {detail}")


@dataclass(frozen=True)
class AiOutput:
    """``created_at`` is UTC; a timestamp written without an offset is taken as UTC."""

    call_id: str
    kind: str
    model: str
    created_at: datetime
    text: str


def _parse_created_at(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise AiOutputFormatError(
            "bad_created_at", "created_at is not an ISO 8601 timestamp"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_ai_output(data: bytes) -> AiOutput:
    """Validate ``{"call_id", "kind", "model", "created_at", "text"}``; extra keys are ignored."""
    try:
        document: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise AiOutputFormatError("not_json", "file is not UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise AiOutputFormatError("not_object", "top level is not an object")
    for key in _REQUIRED:
        if key not in document or document[key] is None:
            raise AiOutputFormatError("missing_field", f"{key} is missing")
        if not isinstance(document[key], str):
            raise AiOutputFormatError("bad_field_type", f"{key} is not a string")
    for key in ("call_id", "model", "created_at"):
        if not document[key].strip():
            raise AiOutputFormatError("missing_field", f"{key} is empty")
    for key, limit in _LIMITS.items():
        if len(document[key]) > limit:
            raise AiOutputFormatError("field_too_long", f"{key} is longer than {limit}")
    if any(ch in document[key] for key in _REQUIRED for ch in _FORBIDDEN[key]):
        raise AiOutputFormatError("control_characters", "a field contains control characters")
    if document["kind"] not in AI_OUTPUT_KINDS:
        raise AiOutputFormatError(
            "unknown_kind", f"kind is not one of {', '.join(AI_OUTPUT_KINDS)}"
        )
    return AiOutput(
        call_id=document["call_id"],
        kind=document["kind"],
        model=document["model"],
        created_at=_parse_created_at(document["created_at"]),
        text=document["text"],
    )
