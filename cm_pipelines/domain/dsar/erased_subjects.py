"""The erasure ledger: recognising an erased subject's data when it arrives again.

An erasure deletes or pseudonymises what the warehouse and the landing zone hold, but the same
files can be delivered again (a re-sent file, a replay, a backfill) and new data about the
subject can arrive later. The ledger keeps, per tenant, only keyed hashes of what identified the
subject (phone numbers, emails, CRM record ids, full names) so that ingestion can recognise the
subject without the platform keeping anything it could disclose.

Names are matched as whole runs of two or more words: a text's word windows of a ledger name's
length are hashed and compared. A single first name is too common to erase on its own and is
never recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cm_pipelines.domain.dsar.planning import Subject
from cm_pipelines.domain.identifiers import Match
from cm_pipelines.domain.keyed_hash import keyed_hash

PHONE = "phone"
EMAIL = "email"
CRM_ID = "crm_id"
NAME = "name"
KINDS: tuple[str, ...] = (PHONE, EMAIL, CRM_ID, NAME)

REASON_DROPPED = "erased_subject_dropped"
"""Data of the erased subject's own calls or records: dropped (and its landing copy removed)."""
REASON_PSEUDONYMISED = "erased_subject_pseudonymised"
"""A call of the erased subject: kept with the subject's numbers as keyed hashes, no name."""
REASON_MASKED = "erased_subject_masked"
"""Someone else's record that names the erased subject: kept with the mentions masked."""

_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


def name_key(name: str) -> str | None:
    """A full name's comparable form (case-folded words), or None for fewer than two words."""
    words = _WORD.findall(name or "")
    if len(words) < 2:
        return None
    return " ".join(word.casefold() for word in words)


def name_keys(name: str) -> set[str]:
    """A caller-ID name's forms as spoken and written: ``Smith, Zara`` is also ``Zara Smith``."""
    keys = {key for key in (name_key(name),) if key is not None}
    before, comma, after = (name or "").partition(",")
    if comma:
        reordered = name_key(f"{after} {before}")
        if reordered is not None:
            keys.add(reordered)
    return keys


def crm_key(system: str | None, record_id: str) -> str:
    return f"{(system or '').casefold()}:{record_id}"


@dataclass(frozen=True)
class LedgerEntry:
    kind: str
    identifier_hash: str
    name_words: int | None = None


def ledger_entries(subject: Subject, names: Iterable[str], key: bytes) -> list[LedgerEntry]:
    """What the ledger keeps of one erased subject: keyed hashes only, one entry each."""
    entries = {LedgerEntry(PHONE, digest) for digest in subject.phone_hashes.values()}
    entries |= {LedgerEntry(EMAIL, digest) for digest in subject.email_hashes.values()}
    entries |= {
        LedgerEntry(CRM_ID, keyed_hash(crm_key(system, record), key))
        for system, record in subject.crm_ids
    }
    for name in names:
        for normalised in name_keys(name):
            words = len(normalised.split(" "))
            entries.add(LedgerEntry(NAME, keyed_hash(normalised, key), words))
    return sorted(entries, key=lambda e: (e.kind, e.identifier_hash))


class _HashedMembers:
    """A set-like view of keyed hashes: ``value in members`` hashes ``value`` first."""

    def __init__(self, hashes: frozenset[str], key: bytes, fold: bool = False) -> None:
        self._hashes = hashes
        self._key = key
        self._fold = fold

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str) or not value or not self._hashes:
            return False
        text = value.casefold() if self._fold else value
        return keyed_hash(text, self._key) in self._hashes

    def __iter__(self) -> Iterator[str]:  # a hash set cannot list its values
        return iter(())

    def __len__(self) -> int:
        return len(self._hashes)


@dataclass(frozen=True)
class ErasedSubjects:
    """One tenant's ledger, as keyed hashes and the key that made them."""

    key: bytes
    phone_hashes: frozenset[str] = frozenset()
    email_hashes: frozenset[str] = frozenset()
    crm_hashes: frozenset[str] = frozenset()
    name_hashes: frozenset[str] = frozenset()
    name_lengths: frozenset[int] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[LedgerEntry], key: bytes) -> ErasedSubjects:
        by_kind: dict[str, set[str]] = {kind: set() for kind in KINDS}
        lengths: set[int] = set()
        for entry in entries:
            by_kind.setdefault(entry.kind, set()).add(entry.identifier_hash)
            if entry.kind == NAME and entry.name_words:
                lengths.add(int(entry.name_words))
        return cls(
            key=key,
            phone_hashes=frozenset(by_kind[PHONE]),
            email_hashes=frozenset(by_kind[EMAIL]),
            crm_hashes=frozenset(by_kind[CRM_ID]),
            name_hashes=frozenset(by_kind[NAME]),
            name_lengths=frozenset(lengths),
        )

    def __bool__(self) -> bool:
        return bool(self.phone_hashes or self.email_hashes or self.crm_hashes or self.name_hashes)

    @property
    def phones(self) -> _HashedMembers:
        """E.164 numbers of erased subjects (membership only)."""
        return _HashedMembers(self.phone_hashes, self.key)

    @property
    def emails(self) -> _HashedMembers:
        return _HashedMembers(self.email_hashes, self.key, fold=True)

    def phone_erased(self, e164: str | None) -> bool:
        return bool(e164) and e164 in self.phones

    def email_erased(self, email: str | None) -> bool:
        return bool(email) and email in self.emails

    def crm_erased(self, system: str | None, record_id: str | None) -> bool:
        if not record_id or not self.crm_hashes:
            return False
        return keyed_hash(crm_key(system, record_id), self.key) in self.crm_hashes

    def name_erased(self, name: str | None) -> bool:
        normalised = name_key(name or "")
        return normalised is not None and keyed_hash(normalised, self.key) in self.name_hashes

    def name_matches(self, text: str) -> list[Match]:
        """Spans of ``text`` that are an erased subject's full name (words in a row)."""
        if not text or not self.name_hashes:
            return []
        words = list(_WORD.finditer(text))
        found: list[Match] = []
        index = 0
        while index < len(words):
            matched = self._name_at(text, words, index)
            if matched is None:
                index += 1
                continue
            found.append(matched)
            index += len(_WORD.findall(matched.value))
        return found

    def _name_at(self, text: str, words: list[re.Match[str]], index: int) -> Match | None:
        for length in sorted(self.name_lengths, reverse=True):
            window = words[index : index + length]
            if len(window) < length:
                continue
            gaps = (text[a.end() : b.start()] for a, b in zip(window, window[1:], strict=False))
            if any(gap.strip() for gap in gaps):
                continue  # names are words separated by spaces only
            normalised = " ".join(w.group().casefold() for w in window)
            if keyed_hash(normalised, self.key) in self.name_hashes:
                start, end = window[0].start(), window[-1].end()
                return Match(start, end, text[start:end], NAME)
        return None
