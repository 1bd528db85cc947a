"""Hash chain over audit entries: each hash covers the entry's canonical content and the previous hash.

Altering, removing or reordering any entry breaks the chain at that entry, so verification can
name the first entry that is not what was written. What a chain alone cannot show — the newest
entries cut off, or the whole tail rewritten with recomputed hashes — is caught by *anchors*:
(seq, hash) pairs of the head recorded earlier somewhere the database owner does not control.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
CHAINED_FIELDS = (
    "seq",
    "occurred_at",
    "actor",
    "action",
    "tenant_id",
    "object_refs",
    "details",
    "run_id",
)
PROBLEMS: tuple[str, ...] = ("altered", "removed", "reordered", "rewritten", "malformed")
"""What verification can report for the first bad entry (see ``ChainVerdict.problem``)."""


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
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode()


def compute_entry_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(b"\n")
    digest.update(canonical_content(entry))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainAnchor:
    """A head the chain once had: the entry at ``seq`` must still carry ``entry_hash``."""

    seq: int
    entry_hash: str


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    entries_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    """``altered``, ``removed``, ``reordered``, ``rewritten`` or ``malformed`` (see PROBLEMS)."""
    detail: str | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    anchors_checked: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "detail": self.detail,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "anchors_checked": self.anchors_checked,
        }

    def describe(self) -> str:
        """One line for operators: counts, sequence numbers and hashes only."""
        if self.ok:
            return (
                f"audit chain intact: {self.entries_checked} entries, head {self.head_seq} "
                f"({self.head_hash[:16]}), {self.anchors_checked} anchor(s) matched"
            )
        return f"audit chain broken at entry {self.first_bad_seq}: {self.problem} — {self.detail}"


def _hash_matches(entry: Mapping[str, Any]) -> bool:
    try:
        return compute_entry_hash(entry, str(entry["prev_hash"])) == entry["entry_hash"]
    except (TypeError, ValueError):
        return False


def _appears_later(rest: Iterator[Mapping[str, Any]], wanted_hash: str) -> int | None:
    """Seq of a later entry whose hash is ``wanted_hash`` (consumes ``rest``)."""
    for later in rest:
        if later.get("entry_hash") == wanted_hash:
            return int(later["seq"])
    return None


def verify_chain(
    entries: Iterable[Mapping[str, Any]], anchors: Iterable[ChainAnchor] = ()
) -> ChainVerdict:
    """Walk entries in ``seq`` order and name the first one that is not what was written.

    Streams: only the previous entry's hash is kept, so a long log verifies in constant memory.
    ``anchors`` are heads recorded earlier; each must still be in the chain with its hash.
    """
    anchor_by_seq: dict[int, str] = {}
    for anchor in anchors:
        anchor_by_seq.setdefault(int(anchor.seq), anchor.entry_hash)
    previous_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    anchors_checked = 0
    last_good_anchor = 0
    iterator = iter(entries)

    def broken(seq: int, problem: str, detail: str) -> ChainVerdict:
        return ChainVerdict(
            False,
            checked,
            seq,
            problem,
            detail,
            head_seq=expected_seq - 1,
            head_hash=previous_hash,
            anchors_checked=anchors_checked,
        )

    for entry in iterator:
        checked += 1
        try:
            seq = int(entry["seq"])
            stored_prev = str(entry["prev_hash"])
            stored_hash = str(entry["entry_hash"])
        except (KeyError, TypeError, ValueError):
            return broken(expected_seq, "malformed", "entry lacks seq, prev_hash or entry_hash")
        if seq > expected_seq:
            missing = (
                f"entry {expected_seq} is missing"
                if seq == expected_seq + 1
                else f"entries {expected_seq}..{seq - 1} are missing"
            )
            return broken(expected_seq, "removed", missing)
        if seq < expected_seq:
            return broken(seq, "reordered", f"entry {seq} appears after entry {expected_seq - 1}")
        self_consistent = _hash_matches(entry)
        if stored_prev != previous_hash:
            origin = _appears_later(iterator, stored_prev)
            if origin is not None:
                return broken(
                    seq,
                    "reordered",
                    f"entry {seq} holds the entry written after entry {origin}",
                )
            if self_consistent and seq > 1:
                # This entry is intact and points at a predecessor that no longer exists: the
                # predecessor was rewritten (its hash recomputed to hide the change).
                return broken(
                    seq - 1,
                    "altered",
                    f"entry {seq - 1} was rewritten: entry {seq} no longer chains to it",
                )
            return broken(seq, "altered", f"entry {seq} does not chain to entry {seq - 1}")
        if not self_consistent:
            return broken(seq, "altered", f"entry {seq} content does not match its hash")
        if seq in anchor_by_seq:
            anchors_checked += 1
            if anchor_by_seq[seq] != stored_hash:
                first = last_good_anchor + 1
                return broken(
                    first,
                    "rewritten",
                    f"entries {first}..{seq} were rewritten: the anchor recorded at entry {seq} "
                    "does not match",
                )
            last_good_anchor = seq
        previous_hash = stored_hash
        expected_seq += 1
    head = expected_seq - 1
    beyond = sorted(seq for seq in anchor_by_seq if seq > head)
    if beyond:
        return broken(
            head + 1,
            "removed",
            f"entries {head + 1}..{beyond[-1]} are missing: an anchor was recorded at entry "
            f"{beyond[-1]}",
        )
    return ChainVerdict(
        True, checked, head_seq=head, head_hash=previous_hash, anchors_checked=anchors_checked
    )
