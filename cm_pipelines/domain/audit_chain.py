"""Hash chain over audit entries: each hash covers the entry's canonical content and the previous hash.

Altering, removing or reordering any entry breaks the chain at that entry, so verification can
name the first entry that is not what was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
CHAINED_FIELDS = ("seq", "occurred_at", "actor", "action", "tenant_id", "object_refs", "details", "run_id")


def _normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        # Stored timestamps may come back naive (SQLite) or aware (PostgreSQL): hash the UTC text.
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def canonical_content(entry: Mapping[str, Any]) -> bytes:
    """Deterministic bytes of the chained fields, independent of database and key order."""
    content = {name: _normalise(entry.get(name)) for name in CHAINED_FIELDS}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def compute_entry_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(b"\n")
    digest.update(canonical_content(entry))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    entries_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    """``altered``, ``removed``, ``reordered`` or ``inserted`` for the first entry that fails."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
        }


def verify_chain(entries: Iterable[Mapping[str, Any]]) -> ChainVerdict:
    """Walk entries in ``seq`` order and name the first one that does not chain."""
    previous_hash = GENESIS_HASH
    expected_seq = 1
    hashes_seen: dict[str, int] = {}
    checked = 0
    for entry in entries:
        seq = int(entry["seq"])
        checked += 1
        if entry["prev_hash"] != previous_hash:
            if seq != expected_seq:
                problem = "removed" if seq > expected_seq else "inserted"
            elif entry["prev_hash"] in hashes_seen:
                problem = "reordered"
            else:
                problem = "reordered" if _hash_matches(entry) else "altered"
            return ChainVerdict(False, checked, seq, problem)
        if seq != expected_seq:
            return ChainVerdict(False, checked, seq, "removed" if seq > expected_seq else "inserted")
        if compute_entry_hash(entry, entry["prev_hash"]) != entry["entry_hash"]:
            return ChainVerdict(False, checked, seq, "altered")
        hashes_seen[entry["entry_hash"]] = seq
        previous_hash = entry["entry_hash"]
        expected_seq += 1
    return ChainVerdict(True, checked)


def _hash_matches(entry: Mapping[str, Any]) -> bool:
    return compute_entry_hash(entry, entry["prev_hash"]) == entry["entry_hash"]
