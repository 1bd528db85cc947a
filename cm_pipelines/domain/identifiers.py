"""Find a person's phone numbers and emails in free text, to locate and to mask them.

Transcripts write numbers three ways: as digits (``03 5550 4567``, ``+61 (3) 5550-4567``), as
spoken words (``oh four nine one five seven oh one five six``, ``double five``, ``eight
hundred``) and mixed (``oh 491 570 156``). Written numbers are found by ``phonenumbers``'
matcher; runs containing spoken digits by a token scanner that keeps the longest sub-run that
is a valid number for the tenant's country. Emails are found written (``a.b@x.org``) and spoken
(``jane dot doe at example dot com``).

DSAR exports mask the *other* party's identifiers (``mask_identifiers`` with keep-sets); logs and
previews use ``redact``, which also masks any remaining run of 8+ digits because it cannot tell
an unknown number from a harmless one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

PHONE_MASK = "[phone]"
EMAIL_MASK = "[email]"
_REDACT_MIN_DIGITS = 8
_MIN_DIGITS = 6
_MAX_DIGITS = 17

_UNITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "naught": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
_TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
_REPEATS = {"double": 2, "triple": 3}
_MULTIPLIERS = {"hundred": "00", "thousand": "000"}
_PLUS_WORDS = frozenset({"+", "plus"})

_TOKEN = re.compile(r"[A-Za-z]+|[0-9]+|\+")
_GAP = re.compile(r"[ \t\r\n,.\-()]{0,3}")

_EMAIL_WRITTEN = re.compile(
    r"(?<![A-Za-z0-9._%+\-])"
    r"[A-Za-z0-9%+\-](?:[A-Za-z0-9._%+\-]*[A-Za-z0-9%+\-])?"
    r"@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+"
)
_TLDS = "com|org|net|edu|gov|io|co|au|uk|us|nz|ca|sg|ie|info|biz|me|app|dev"
_SPOKEN_LOCAL_SEP = r"\s+(?:dot|underscore|dash|hyphen)\s+"
_SPOKEN_DOMAIN_SEP = r"(?:\s+dot\s+|\.)"
_EMAIL_SPOKEN = re.compile(
    rf"(?<![A-Za-z0-9._%+\-@])"
    rf"(?P<local>[A-Za-z0-9][A-Za-z0-9._%+\-]*(?:{_SPOKEN_LOCAL_SEP}[A-Za-z0-9][A-Za-z0-9._%+\-]*)*)"
    rf"\s+at\s+"
    rf"(?P<domain>[A-Za-z0-9\-]+(?:{_SPOKEN_DOMAIN_SEP}[A-Za-z0-9\-]+)*{_SPOKEN_DOMAIN_SEP}(?:{_TLDS}))"
    rf"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_SPOKEN_SEPARATORS = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-"}


@dataclass(frozen=True)
class Match:
    """A found identifier: ``value`` is E.164 (``kind='phone'``) or a lowercased email."""

    start: int
    end: int
    value: str
    kind: str = "phone"

    @property
    def e164(self) -> str:
        return self.value


@dataclass(frozen=True)
class Identifiers:
    phones: frozenset[str]
    emails: frozenset[str]


# ---------------------------------------------------------------- phone numbers


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    digits: str  # "+" for a leading plus
    spoken: bool


def _piece_at(tokens: list[re.Match[str]], index: int, text: str) -> tuple[_Piece, int] | None:
    """The digits the token at ``index`` contributes, and the index after what it consumed."""
    word = tokens[index].group().lower()
    start, end = tokens[index].span()

    def follower() -> str | None:
        if index + 1 < len(tokens) and _joined(tokens[index], tokens[index + 1], text):
            return tokens[index + 1].group().lower()
        return None

    def piece(digits: str, consumed: int, spoken: bool = True) -> tuple[_Piece, int]:
        last = tokens[index + consumed - 1].end()
        return _Piece(start, last, digits, spoken), index + consumed

    if word.isdigit():
        return piece(word, 1, spoken=False)
    if word in _PLUS_WORDS:
        return _Piece(start, end, "+", word != "+"), index + 1
    following = follower()
    if word in _REPEATS and following is not None:
        digit = _UNITS.get(
            following, following if len(following) == 1 and following.isdigit() else None
        )
        if digit is not None:
            return piece(digit * _REPEATS[word], 2)
        return None
    base = _UNITS.get(word) or _TEENS.get(word)
    if base is not None:
        if following in _MULTIPLIERS and base != "0":
            return piece(base + _MULTIPLIERS[following], 2)
        return piece(base, 1)
    if word in _TENS:
        if following in _UNITS and _UNITS[following] != "0":
            return piece(_TENS[word] + _UNITS[following], 2)
        return piece(_TENS[word] + "0", 1)
    return None


def _joined(left: re.Match[str], right: re.Match[str], text: str) -> bool:
    return _GAP.fullmatch(text, left.end(), right.start()) is not None


def _digit_runs(text: str) -> list[list[_Piece]]:
    """Maximal runs of digit-bearing tokens separated only by spaces and light punctuation."""
    tokens = list(_TOKEN.finditer(text))
    runs: list[list[_Piece]] = []
    index = 0
    while index < len(tokens):
        found = _piece_at(tokens, index, text)
        if found is None:
            index += 1
            continue
        run = [found[0]]
        index = found[1]
        while index < len(tokens) and _joined(tokens[index - 1], tokens[index], text):
            found = _piece_at(tokens, index, text)
            if found is None or found[0].digits == "+":
                break
            run.append(found[0])
            index = found[1]
        runs.append(run)
    return runs


def _valid_e164(digits: str, country: str) -> str | None:
    try:
        parsed = phonenumbers.parse(digits, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _numbers_in_run(run: list[_Piece], country: str) -> list[Match]:
    """Longest valid sub-runs first, then recurse on what is left either side."""
    found: list[Match] = []
    stack = [(0, len(run))]
    while stack:
        low, high = stack.pop()
        best: tuple[int, int, str] | None = None
        best_length = 0
        for first in range(low, high):
            digits = ""
            for last in range(first, high):
                if run[last].digits == "+" and last != first:
                    break
                digits += run[last].digits
                count = len(digits) - digits.startswith("+")
                if count > _MAX_DIGITS:
                    break
                if count < _MIN_DIGITS or count <= best_length:
                    continue
                e164 = _valid_e164(digits, country)
                if e164 is not None:
                    best, best_length = (first, last, e164), count
        if best is None:
            continue
        first, last, e164 = best
        found.append(Match(run[first].start, run[last].end, e164, "phone"))
        stack.extend([(low, first), (last + 1, high)])
    return found


def _without_overlaps(matches: list[Match]) -> list[Match]:
    """Keep the longest of overlapping matches (earliest first on ties), in text order."""
    kept: list[Match] = []
    for match in sorted(matches, key=lambda m: (-(m.end - m.start), m.start)):
        if all(match.end <= other.start or match.start >= other.end for other in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)


def _continues_a_figure(text: str, start: int) -> bool:
    """Digits right after ``12.`` or ``09:15:`` are a fraction or a time part, not a number
    (``09:15:02.136480`` must not yield the short number 136480)."""
    return start >= 2 and text[start - 1] in ".:" and text[start - 2].isdigit()


def find_phone_numbers(text: str, country: str) -> list[Match]:
    """Valid numbers written or spoken in ``text``; national forms read as dialled in ``country``."""
    matches = [
        Match(
            found.start,
            found.end,
            phonenumbers.format_number(found.number, phonenumbers.PhoneNumberFormat.E164),
            "phone",
        )
        for found in phonenumbers.PhoneNumberMatcher(text, country, phonenumbers.Leniency.VALID)
        if not _continues_a_figure(text, found.start)
    ]
    for run in _digit_runs(text):
        if any(piece.spoken for piece in run):
            matches.extend(_numbers_in_run(run, country))
    return _without_overlaps(matches)


# ---------------------------------------------------------------- emails


def _spoken_email(local: str, domain: str) -> str:
    local = re.sub(
        _SPOKEN_LOCAL_SEP,
        lambda sep: _SPOKEN_SEPARATORS[sep.group().strip().lower()],
        local,
        flags=re.IGNORECASE,
    )
    domain = re.sub(r"\s+dot\s+", ".", domain, flags=re.IGNORECASE)
    return f"{local}@{domain}".lower()


def find_emails(text: str) -> list[Match]:
    """Emails written (``a.b@x.org``) or spoken (``a dot b at x dot org``), lowercased."""
    matches = [
        Match(found.start(), found.end(), found.group().lower(), "email")
        for found in _EMAIL_WRITTEN.finditer(text)
    ]
    matches.extend(
        Match(found.start(), found.end(), _spoken_email(found["local"], found["domain"]), "email")
        for found in _EMAIL_SPOKEN.finditer(text)
    )
    return _without_overlaps(matches)


# ---------------------------------------------------------------- together


def _all_matches(text: str, country: str) -> list[Match]:
    emails = find_emails(text)
    phones = [
        phone
        for phone in find_phone_numbers(text, country)
        if all(phone.end <= email.start or phone.start >= email.end for email in emails)
    ]
    return sorted(emails + phones, key=lambda m: m.start)


def extract_identifiers(text: str, country: str) -> Identifiers:
    """Every distinct phone (E.164) and email (lowercased) in ``text``."""
    matches = _all_matches(text, country)
    return Identifiers(
        phones=frozenset(m.value for m in matches if m.kind == "phone"),
        emails=frozenset(m.value for m in matches if m.kind == "email"),
    )


def _replace(text: str, matches: list[Match]) -> str:
    out: list[str] = []
    position = 0
    for match in sorted(matches, key=lambda m: m.start):
        out.append(text[position : match.start])
        out.append(PHONE_MASK if match.kind == "phone" else EMAIL_MASK)
        position = match.end
    out.append(text[position:])
    return "".join(out)


def mask_identifiers(
    text: str,
    country: str,
    keep_phones: frozenset[str] = frozenset(),
    keep_emails: frozenset[str] = frozenset(),
) -> str:
    """Mask every phone/email except the data subject's own (``keep_*``; E.164, any-case emails)."""
    keep_email_set = {email.lower() for email in keep_emails}
    to_mask = [
        match
        for match in _all_matches(text, country)
        if not (match.kind == "phone" and match.value in keep_phones)
        and not (match.kind == "email" and match.value in keep_email_set)
    ]
    return _replace(text, to_mask)


def _merged(matches: list[Match]) -> list[Match]:
    """Union of overlapping spans, so no part of any identifier survives masking."""
    merged: list[Match] = []
    for match in sorted(matches, key=lambda m: (m.start, -m.end)):
        if merged and match.start < merged[-1].end:
            last = merged[-1]
            longest = last if last.end - last.start >= match.end - match.start else match
            merged[-1] = Match(last.start, max(last.end, match.end), "", longest.kind)
        else:
            merged.append(match)
    return merged


def redact(text: str, country: str | None = None) -> str:
    """Mask all identifiers, plus any other run of 8+ digits (written or spoken).

    Without ``country`` only international (``+``) numbers are recognised as such, and the
    digit-run rule catches the rest.
    """
    matches = _all_matches(text, country or phonenumbers.UNKNOWN_REGION)
    for run in _digit_runs(text):
        digits = "".join(piece.digits for piece in run if piece.digits != "+")
        if len(digits) >= _REDACT_MIN_DIGITS:
            matches.append(Match(run[0].start, run[-1].end, "", "phone"))
    return _replace(text, _merged(matches))
