"""What the identifier index holds for one text: the keyed hash of every phone number and email
the text names, found by the same finder the exports mask with and the text scan of a DSAR
locate used (``extract_identifiers``), so an index lookup finds exactly what that scan found.

Numbers written in any national or international form and numbers spoken as words inside the
text all come out as E.164; emails written or spoken come out lowercased. Only the keyed hash
is kept: the index must not become another copy of the identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass

from cm_pipelines.domain.identifiers import extract_identifiers
from cm_pipelines.domain.keyed_hash import keyed_hash

PHONE = "phone"
EMAIL = "email"


@dataclass(frozen=True, order=True)
class IndexEntry:
    """One identifier named by a text: its kind and its keyed hash."""

    identifier_kind: str
    keyed_hash: str


def index_entries(text: str | None, country: str, key: bytes) -> list[IndexEntry]:
    """The distinct identifiers ``text`` names, as keyed hashes, in a stable order."""
    if not text:
        return []
    found = extract_identifiers(text, country)
    entries = {IndexEntry(PHONE, keyed_hash(phone, key)) for phone in found.phones}
    entries.update(IndexEntry(EMAIL, keyed_hash(email, key)) for email in found.emails)
    return sorted(entries)
