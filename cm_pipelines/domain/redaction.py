"""One masking helper for everything the platform writes where people look: logs, metadata, errors.

Phone numbers are found in any written form (``+61 491 570 156``, ``0491570156``,
``(212) 555-0147``, ``61491570156``, digits read out as words) and emails in any case; both are
replaced by a fixed token. Masking is deliberately eager: a count that happens to be a valid phone
number is masked too, because a masked count costs nothing and a leaked number cannot be recalled.
Ids the platform itself produces (run ids, hashes, Asterisk uniqueids, ISO dates) are left alone.

Names and transcript text cannot be recognised in arbitrary text; the rule for those is that they
are never put into a message in the first place (the leak-scan test holds the code to it).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import phonenumbers

from cm_pipelines.domain import identifiers

PHONE_TOKEN = "[phone]"
EMAIL_TOKEN = "[email]"
PERSONAL_DATA_KINDS: tuple[str, ...] = ("email", "phone")

DEFAULT_REGIONS: tuple[str, ...] = ("AU", "GB", "SG", "US", "NZ", "CA", "IE")
"""Regions whose national number formats are recognised without a ``+`` (tenant countries first)."""

_MIN_DIGITS = 8  # Singapore numbers are 8 digits; shorter runs are extensions, counts, codes
_MAX_DIGITS = 15  # E.164 maximum

# Every pattern here is linear in the text: bounded quantifiers or one start per run, because
# a log line can carry a hostile 100 kB value and redaction must not become the denial of service.
_EMAIL = (
    r"[A-Za-z0-9._%+\-]{1,64}(?:@|%40)[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}"
)
_DIGIT_WORD = r"(?:zero|oh|nought|one|two|three|four|five|six|seven|eight|nine)"
_TWO_DIGIT_WORD = (
    r"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
    r"|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
)
_SPOKEN_TOKEN = (
    rf"(?:(?:double|triple)\s+)?(?:{_DIGIT_WORD}|{_TWO_DIGIT_WORD}|hundred|thousand|\d{{1,4}})"
)
# Numbers read out (speech-to-text writes them as words, or mixed: "oh 491 570 156").
_SPOKEN = rf"(?:\bplus[\s,]+)?\b{_SPOKEN_TOKEN}\b(?:[\s,\-]{{1,3}}{_SPOKEN_TOKEN}\b){{3,}}"
_SPOKEN_MIN_DIGITS = 7
_DIGIT_VALUE = {
    **dict.fromkeys(("zero", "oh", "nought", "one", "two", "three", "four"), 1),
    **dict.fromkeys(("five", "six", "seven", "eight", "nine"), 1),
    "hundred": 2,
    "thousand": 3,
}
# Things that look numeric but are the platform's own ids: ISO dates and times, UUIDs, long hex.
_PROTECTED = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+\-]\d{2}:?\d{2})?)?"
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)
_GROUP = r"\(?\d+\)?"
_SEPARATOR = r"(?:[ \u00a0]{1,2}|[ \u00a0]?[\-./][ \u00a0]?|(?<=\)))"
# A run of digit groups not glued to a word, a decimal point or an id: "+61 491 570 156",
# "(212) 555-0147", but not the "1763630102" of the uniqueid "1763630102.421".
_PHONE_RUN = (
    rf"(?<![A-Za-z0-9.+])(?<![A-Za-z0-9][\-.])"
    rf"(?:\+[ \u00a0]?)?{_GROUP}(?:{_SEPARATOR}{_GROUP})*"
    rf"(?![A-Za-z0-9])(?!\.\d)(?!-[A-Za-z0-9])"
)
_SCANNER = re.compile(rf"(?P<protected>{_PROTECTED})|(?P<run>{_PHONE_RUN})", re.IGNORECASE)
_EMAILS = re.compile(_EMAIL, re.IGNORECASE)
_SPOKEN_NUMBERS = re.compile(_SPOKEN, re.IGNORECASE)
_SPOKEN_PIECES = re.compile(rf"{_SPOKEN_TOKEN}", re.IGNORECASE)
_DIGITS_OF_GROUP = re.compile(r"\d+")
_NUMBER_WORD = re.compile(
    rf"\b(?:{_DIGIT_WORD}|{_TWO_DIGIT_WORD}|double|triple|hundred|thousand)\b", re.IGNORECASE
)


class PersonalDataError(ValueError):
    """Personal data where only ids, counts and hashes may go; the message names where, not what."""

    def __init__(self, context: str, findings: list[tuple[str, str]]):
        self.context = context
        self.findings = findings
        places = ", ".join(f"{kind} at {path or '(value)'}" for kind, path in findings[:10])
        more = f" and {len(findings) - 10} more" if len(findings) > 10 else ""
        super().__init__(
            f"{context}: personal data found ({places}{more}); "
            "write ids, counts or keyed hashes instead"
        )


@lru_cache(maxsize=65_536)
def _is_phone_digits(digits: str, international: bool, regions: tuple[str, ...]) -> bool:
    """Whether a digit string (from one run of groups) is a phone number someone could dial."""
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS + (2 if digits.startswith("00") else 0):
        return False
    if international:
        return True  # "+" and 8-15 digits: written as a phone number, valid or not
    if digits.startswith("00") and _valid("+" + digits[2:]):
        return True
    if digits.startswith("0") and digits[1] != "0" and 9 <= len(digits) <= 12:
        return True  # national trunk-prefixed form, valid or not ("00..." is zero padding)
    if len(digits) >= 10 and _valid("+" + digits):
        return True  # E.164 digits without the plus, as wash results write them
    for region in regions:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        if metadata.national_prefix == "0" and not digits.startswith("0"):
            continue  # nobody writes an AU/GB number without its trunk 0
        try:
            parsed = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return True
    return False


@lru_cache(maxsize=65_536)
def _valid(e164_like: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164_like, None))
    except phonenumbers.NumberParseException:
        return False


def _phone_spans_in_run(run: str, offset: int, regions: tuple[str, ...]) -> list[tuple[int, int]]:
    """Spans of phone numbers inside one run of digit groups; adjacent numbers are split apart."""
    groups = [(m.start(), m.end(), m.group()) for m in _DIGITS_OF_GROUP.finditer(run)]
    leading_plus = run.lstrip().startswith("+")
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(groups):
        found = None
        digits = ""
        candidates = []
        for end in range(start, len(groups)):
            digits += groups[end][2]
            if len(digits) > _MAX_DIGITS + 2:
                break
            candidates.append((end, digits))
        for end, digits in reversed(candidates):  # longest first
            if _is_phone_digits(digits, leading_plus and start == 0, regions):
                found = end
                break
        if found is None:
            start += 1
            continue
        span_start = 0 if (leading_plus and start == 0) else groups[start][0]
        if span_start > 0 and run[span_start - 1] == "(":
            span_start -= 1
        span_end = groups[found][1]
        if span_end < len(run) and run[span_end] == ")":
            span_end += 1
        spans.append((offset + span_start, offset + span_end))
        start = found + 1
    return spans


def _spoken_digits(spoken: str) -> tuple[int, bool]:
    """(digits a read-out number stands for, whether any of it was a word)."""
    digits, worded = 0, False
    for piece in _SPOKEN_PIECES.finditer(spoken):
        words = piece.group().lower().split()
        repeat = {"double": 2, "triple": 3}.get(words[0], 1) if len(words) > 1 else 1
        token = words[-1]
        if token.isdigit():
            digits += len(token) * repeat
        else:
            worded = True
            digits += _DIGIT_VALUE.get(token, 2) * repeat
    return digits, worded


def _spans(text: str, regions: tuple[str, ...]) -> Iterator[tuple[str, int, int]]:
    """Raw (kind, start, end) findings of every detector; they may overlap."""
    protected: list[tuple[int, int]] = []
    for match in _SCANNER.finditer(text):
        if match.lastgroup == "protected":
            protected.append((match.start(), match.end()))
        else:
            yield from (
                ("phone", start, end)
                for start, end in _phone_spans_in_run(match.group(), match.start(), regions)
            )
    if "@" in text or "%40" in text:
        for match in _EMAILS.finditer(text):
            yield "email", match.start(), match.end()
    # The identifier finder used by DSAR locate also knows spoken emails ("jane dot doe at
    # example dot com"); it is linear, so it runs on every text.
    for email in identifiers.find_emails(text):
        yield "email", email.start, email.end
    if _NUMBER_WORD.search(text):
        for match in _SPOKEN_NUMBERS.finditer(text):
            digits, worded = _spoken_digits(match.group())
            inside_id = any(s < match.end() and match.start() < e for s, e in protected)
            if worded and digits >= _SPOKEN_MIN_DIGITS and not inside_id:
                yield "phone", match.start(), match.end()


def _findings(text: str, regions: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every email and phone number in ``text``: overlaps merged, in order."""
    merged: list[tuple[str, int, int]] = []
    for kind, start, end in sorted(_spans(text, regions), key=lambda span: (span[1], -span[2])):
        if merged and start < merged[-1][2]:
            last_kind, last_start, last_end = merged[-1]
            longer = kind if end - start > last_end - last_start else last_kind
            merged[-1] = (longer, last_start, max(last_end, end))
        else:
            merged.append((kind, start, end))
    return merged


def redact_text(text: str, *, regions: tuple[str, ...] = DEFAULT_REGIONS) -> str:
    """``text`` with every phone number and email replaced by ``[phone]`` / ``[email]``."""
    if not text or not isinstance(text, str):
        return text
    pieces: list[str] = []
    position = 0
    for kind, start, end in _findings(text, regions):
        pieces.append(text[position:start])
        pieces.append(PHONE_TOKEN if kind == "phone" else EMAIL_TOKEN)
        position = end
    if position == 0:
        return text
    pieces.append(text[position:])
    return "".join(pieces)


def _scalars(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every string inside ``value``; mapping keys count as text too."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            key_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                yield f"{key_path} (key)", key
            yield from _scalars(item, key_path)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _scalars(item, f"{path}[{index}]")
    elif isinstance(value, bytes | bytearray):
        yield path, bytes(value).decode("utf-8", errors="replace")
    elif value is None or isinstance(value, bool | int | float | date | datetime):
        return  # numbers are counts and sizes by convention; dates are not identifiers
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield from _scalars(dataclasses.asdict(value), path)
    else:
        yield path, str(value)


def _locate(value: Any, regions: tuple[str, ...]) -> list[tuple[str, str]]:
    findings: list[tuple[str, str]] = []
    for path, text in _scalars(value, ""):
        kinds = sorted({kind for kind, _, _ in _findings(text, regions)})
        findings.extend((kind, path) for kind in kinds)
    return findings


def find_personal_data(value: Any, *, regions: tuple[str, ...] = DEFAULT_REGIONS) -> list[str]:
    """Kinds of personal data (``email``, ``phone``) found anywhere in ``value``, sorted."""
    return sorted({kind for kind, _ in _locate(value, regions)})


def assert_no_personal_data(
    value: Any, context: str = "value", *, regions: tuple[str, ...] = DEFAULT_REGIONS
) -> None:
    """Raise ``PersonalDataError`` (a ``ValueError``) naming the kind and path of each finding.

    The message carries the path (``details.reason``) and the kind, never the value itself.
    """
    findings = _locate(value, regions)
    if findings:
        raise PersonalDataError(context, findings)


def redact_value(value: Any, *, regions: tuple[str, ...] = DEFAULT_REGIONS) -> Any:
    """A copy of a JSON-like value with every string (keys included) redacted."""
    if isinstance(value, str):
        return redact_text(value, regions=regions)
    if isinstance(value, Mapping):
        return {
            (redact_text(k, regions=regions) if isinstance(k, str) else k): redact_value(
                v, regions=regions
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v, regions=regions) for v in value)
    return value
