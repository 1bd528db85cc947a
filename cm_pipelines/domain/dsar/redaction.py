"""Erasing one person from someone else's transcript or AI note.

When the subject is only *named* in another call (a caller gave their partner's number), the
record belongs to the other caller too, so erasure redacts the subject's identifiers instead of
deleting the whole record. Vendor documents are redacted where the text lives: every string
value, AWS Transcribe's word-per-item list (a spoken number spans many items), and Whisper's
token ids of a changed segment (they encode the same words).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from typing import Any

from cm_pipelines.domain.identifiers import (
    EMAIL_MASK,
    PHONE_MASK,
    Match,
    find_emails,
    find_phone_numbers,
)

NameMatcher = Callable[[str], list[Match]]
"""Finds the subject's names in a text (the erasure ledger's ``name_matches``)."""
NAME_MASK = "[name]"
_MASKS = {"phone": PHONE_MASK, "email": EMAIL_MASK, "name": NAME_MASK}


def _lowered(emails: Collection[str]) -> Collection[str]:
    """Plain collections are lowercased; a hashed view (membership only) folds on lookup."""
    if isinstance(emails, set | frozenset | list | tuple):
        return {email.lower() for email in emails}
    return emails


def _outside(match: Match, taken: list[Match]) -> bool:
    return all(match.end <= t.start or match.start >= t.end for t in taken)


def subject_matches(
    text: str,
    country: str,
    phones: Collection[str],
    emails: Collection[str],
    names: NameMatcher | None = None,
) -> list[Match]:
    """Spans of ``text`` that are the subject's phone numbers (E.164), emails or names."""
    if not text:
        return []
    wanted_emails = _lowered(emails)
    found_emails = find_emails(text)
    matches = [m for m in found_emails if m.value in wanted_emails]
    matches.extend(
        phone
        for phone in find_phone_numbers(text, country)
        if phone.value in phones and _outside(phone, found_emails)
    )
    if names is not None:
        matches.extend(name for name in names(text) if _outside(name, matches))
    return sorted(matches, key=lambda m: m.start)


def redact_subject_text(
    text: str,
    country: str,
    phones: Collection[str],
    emails: Collection[str],
    names: NameMatcher | None = None,
) -> tuple[str, int]:
    """``text`` with the subject's identifiers masked, and how many were masked."""
    matches = subject_matches(text, country, phones, emails, names)
    if not matches:
        return text, 0
    out: list[str] = []
    position = 0
    for match in matches:
        out.append(text[position : match.start])
        out.append(_MASKS.get(match.kind, EMAIL_MASK))
        position = match.end
    out.append(text[position:])
    return "".join(out), len(matches)


def _item_content(item: Any) -> dict[str, Any] | None:
    """The first alternative of an AWS Transcribe item (which holds its word)."""
    if not isinstance(item, dict):
        return None
    alternatives = item.get("alternatives")
    if isinstance(alternatives, list) and alternatives and isinstance(alternatives[0], dict):
        if isinstance(alternatives[0].get("content"), str):
            return alternatives[0]
    return None


def _redact_word_items(
    items: list[Any],
    country: str,
    phones: Collection[str],
    emails: Collection[str],
    names: NameMatcher | None,
) -> int:
    """Words joined with spaces, searched as one text, masked item by item (in place)."""
    contents = [_item_content(item) for item in items]
    spans: list[tuple[int, int, dict[str, Any]]] = []
    pieces: list[str] = []
    position = 0
    for content in contents:
        if content is None:
            continue
        word = content["content"]
        spans.append((position, position + len(word), content))
        pieces.append(word)
        position += len(word) + 1
    text = " ".join(pieces)
    matches = subject_matches(text, country, phones, emails, names)
    for match in matches:
        mask = _MASKS.get(match.kind, EMAIL_MASK)
        first = True
        for start, end, content in spans:
            if end <= match.start or start >= match.end:
                continue
            content["content"] = mask if first else ""
            first = False
    return len(matches)


def _walk(
    node: Any,
    country: str,
    phones: Collection[str],
    emails: Collection[str],
    names: NameMatcher | None,
) -> tuple[Any, int]:
    if isinstance(node, str):
        return redact_subject_text(node, country, phones, emails, names)
    if isinstance(node, list):
        total = 0
        if any(_item_content(item) is not None for item in node):
            total += _redact_word_items(node, country, phones, emails, names)
        redacted = []
        for value in node:
            if _item_content(value) is not None:
                redacted.append(value)  # the word list was handled as a whole
                continue
            new_value, count = _walk(value, country, phones, emails, names)
            redacted.append(new_value)
            total += count
        return redacted, total
    if isinstance(node, dict):
        total = 0
        result: dict[str, Any] = {}
        for key, value in node.items():
            new_value, count = _walk(value, country, phones, emails, names)
            result[key] = new_value
            total += count
        if total and isinstance(result.get("tokens"), list):
            result["tokens"] = []  # token ids spell the redacted words
        return result, total
    return node, 0


def redact_subject_document(
    document: Any,
    country: str,
    phones: Collection[str],
    emails: Collection[str],
    names: NameMatcher | None = None,
) -> tuple[Any, int]:
    """A redacted deep copy of a parsed JSON document and the number of masked mentions."""
    return _walk(copy.deepcopy(document), country, phones, emails, names)
