"""A deterministic, offline recogniser of people's names in transcripts and notes.

No model, nothing downloaded at run time: a statistical recogniser would need a language model
shipped and pinned, and its errors could not be explained to a privacy officer. Instead, in order:

1. **Known names** the platform holds as data (caller-ID names, CRM contact names, other data
   subjects of the tenant) are found wherever they, or a part of them, appear: ``certain``.
2. **Patterns**: an honorific (``Mr``, ``Puan``, ``Dr``, ``Haji`` …) before capitalised words, a
   patronymic (``bin``, ``binti``, ``s/o``, ``a/l``, ``ibn``, ``al-``) between them, a cue phrase
   (``my partner …``, ``ask for …``, ``… called``) or bundled given-name/surname lists of the
   tenants' cultures make a capitalised run ``certain``; a capitalised word mid-sentence that
   no list knows is ``unsure`` (a person to a human reader, perhaps a product or a place).

The subject's own names are never reported: the requester gets their own data. A finding is a
span and a confidence only; callers mask and count, and never log the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cm_pipelines.domain.names import lexicon

CERTAIN = "certain"
UNSURE = "unsure"
NAME_MASK = "[name]"

_TOKEN = re.compile(r"[^\W\d_][\w'’\-/]*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n\"(]\s*|[.!?]\"?\s+)$")
_KNOWN_PART_MIN = 3  # "Li", "Ng" alone are too common as syllables to mask on their own


@dataclass(frozen=True)
class NameFinding:
    start: int
    end: int
    confidence: str


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str

    @property
    def low(self) -> str:
        return self.text.lower().rstrip("'’")

    @property
    def capitalised(self) -> bool:
        return self.text[0].isupper()


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


def _name_words(names: Iterable[str]) -> frozenset[str]:
    return frozenset(token.low for name in names for token in _tokens(name or ""))


def _is_lexicon(token: _Token) -> bool:
    low = token.low
    base = low[3:] if low.startswith("al-") else low
    return base in lexicon.GIVEN_NAMES or base in lexicon.SURNAMES


def _is_particle(token: _Token) -> bool:
    """A joining word; ``al-Rashid`` is a name part in its own right, ``al-`` alone is not."""
    return token.low in lexicon.PARTICLES


def _joined(text: str, left: _Token, right: _Token) -> bool:
    """Two tokens belong to one name only if nothing but spaces lies between them."""
    gap = text[left.end : right.start]
    return gap.strip(" ") == ""


def _cue_before(text: str, start: int) -> bool:
    before = text[max(0, start - 40) : start].lower().rstrip(" ,:-")
    return any(before == cue or before.endswith(" " + cue) for cue in lexicon.CUE_BEFORE)


def _sentence_initial(text: str, start: int) -> bool:
    return bool(_SENTENCE_END.search(text[max(0, start - 4) : start]))


def _can_extend(token: _Token) -> bool:
    if _is_particle(token):
        return True
    if token.text.isupper() and len(token.text) <= 3:
        return False  # acronyms: "ID", "SMS", "PIN"
    return (token.capitalised or token.low.startswith("al-")) and (
        token.low not in lexicon.NOT_NAMES or _is_lexicon(token)
    )


def _run_end(text: str, tokens: Sequence[_Token], first: int, lower_ok: bool) -> int:
    """Index after the last token of the name run starting at ``first``."""
    end = first + 1
    while end < len(tokens) and _joined(text, tokens[end - 1], tokens[end]):
        token = tokens[end]
        if _is_particle(token):
            if end + 1 < len(tokens) and (
                tokens[end + 1].capitalised or (lower_ok and _is_lexicon(tokens[end + 1]))
            ):
                end += 1
                continue
            break
        if _can_extend(token) or (lower_ok and _is_lexicon(token)):
            end += 1
            continue
        break
    return end


def _grade(text: str, run: Sequence[_Token], after: _Token | None, honorific: bool) -> str | None:
    """The confidence of one capitalised run, or None when it is not a name."""
    lexical = sum(_is_lexicon(token) for token in run)
    particle = any(_is_particle(token) for token in run)
    cue = _cue_before(text, run[0].start) or (
        after is not None and after.low in lexicon.CUE_AFTER and _joined(text, run[-1], after)
    )
    initial = _sentence_initial(text, run[0].start)
    if honorific or particle and len(run) >= 2:
        return CERTAIN
    if lexical and (len(run) >= 2 or cue or not initial):
        return CERTAIN
    if lexical or (cue and not initial):
        return UNSURE if initial else CERTAIN
    if not initial or cue:
        return UNSURE
    return None


def _is_own(run: Sequence[_Token], subject_words: frozenset[str]) -> bool:
    """The run is the subject's name: every word is one of theirs, or an initial of theirs
    ("Doe, J" on caller-ID covers "Jane Doe") beside at least one full word of theirs."""
    initials = {word for word in subject_words if len(word) == 1}
    full = [t for t in run if t.low in subject_words and len(t.low) > 1]
    return bool(full) and all(
        t.low in subject_words or _is_particle(t) or t.low[0] in initials for t in run
    )


def _pattern_findings(text: str, subject_words: frozenset[str]) -> list[NameFinding]:
    tokens = _tokens(text)
    findings: list[NameFinding] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        honorific = token.low.rstrip(".") in lexicon.HONORIFICS and token.capitalised
        start = index
        if honorific:
            while (  # "Mr and Mrs Harrison", "Tuan Haji Rashid"
                index + 2 < len(tokens)
                and tokens[index + 1].low in ("and", "&")
                and tokens[index + 2].low.rstrip(".") in lexicon.HONORIFICS
            ) or (
                index + 1 < len(tokens) and tokens[index + 1].low.rstrip(".") in lexicon.HONORIFICS
            ):
                index += 2 if tokens[index + 1].low in ("and", "&") else 1
            index += 1
            if index >= len(tokens) or not tokens[index].capitalised:
                continue
        lower_ok = not token.capitalised and _cue_before(text, token.start) and _is_lexicon(token)
        if not honorific and not lower_ok and not (token.capitalised and _can_extend(token)):
            index += 1
            continue
        end = _run_end(text, tokens, index, lower_ok)
        run = tokens[index:end]
        after = tokens[end] if end < len(tokens) else None
        confidence = _grade(text, run, after, honorific)
        own = not honorific and _is_own(run, subject_words)
        if confidence is not None and not own:
            findings.append(NameFinding(tokens[start].start, run[-1].end, confidence))
        index = end
    return findings


def _known_findings(
    text: str, known: Iterable[str], subject_words: frozenset[str]
) -> list[NameFinding]:
    words = {
        word
        for word in _name_words(known)
        if len(word) >= _KNOWN_PART_MIN
        and word not in subject_words
        and word not in lexicon.NOT_NAMES
        and word not in lexicon.PARTICLES
        and word not in lexicon.HONORIFICS
    }
    if not words:
        return []
    return [
        NameFinding(token.start, token.end, CERTAIN)
        for token in _tokens(text)
        if token.low in words
    ]


def _merged(findings: Iterable[NameFinding]) -> list[NameFinding]:
    merged: list[NameFinding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if (
            merged
            and finding.start <= merged[-1].end
            and (finding.start < merged[-1].end or finding.start == merged[-1].end)
        ):
            last = merged[-1]
            confidence = CERTAIN if CERTAIN in (last.confidence, finding.confidence) else UNSURE
            merged[-1] = NameFinding(last.start, max(last.end, finding.end), confidence)
        else:
            merged.append(finding)
    return merged


def find_names(
    text: str, *, known_names: Iterable[str] = (), subject_names: Iterable[str] = ()
) -> list[NameFinding]:
    """Spans of other people's names in ``text``, in order, overlaps merged."""
    if not text:
        return []
    subject_words = _name_words(subject_names)
    return _merged(
        _pattern_findings(text, subject_words) + _known_findings(text, known_names, subject_words)
    )


def mask_names(text: str, findings: Sequence[NameFinding]) -> str:
    """``text`` with every finding replaced by ``[name]``."""
    if not findings:
        return text
    pieces: list[str] = []
    position = 0
    for finding in findings:
        pieces.append(text[position : finding.start])
        pieces.append(NAME_MASK)
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)
