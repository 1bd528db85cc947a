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


Fault = tuple[int, str, str]
"""(first bad seq, problem, detail) of a broken chain."""


@dataclass
class _Walk:
    """How far verification got: the verified head (its hash and the seq expected next) and
    the counts a verdict reports. Only this is kept, so a long log verifies in constant memory."""

    anchor_by_seq: dict[int, str]
    previous_hash: str = GENESIS_HASH
    expected_seq: int = 1
    checked: int = 0
    anchors_checked: int = 0
    last_good_anchor: int = 0

    def broken(self, fault: Fault) -> ChainVerdict:
        seq, problem, detail = fault
        return ChainVerdict(
            False,
            self.checked,
            seq,
            problem,
            detail,
            head_seq=self.expected_seq - 1,
            head_hash=self.previous_hash,
            anchors_checked=self.anchors_checked,
        )

    def anchor_fault(self, seq: int, stored_hash: str) -> Fault | None:
        """An anchor recorded at ``seq`` that the entry no longer matches: everything since the
        last matching anchor may have been rewritten with recomputed hashes."""
        if seq not in self.anchor_by_seq:
            return None
        self.anchors_checked += 1
        if self.anchor_by_seq[seq] != stored_hash:
            first = self.last_good_anchor + 1
            return (
                first,
                "rewritten",
                f"entries {first}..{seq} were rewritten: the anchor recorded at entry {seq} "
                "does not match",
            )
        self.last_good_anchor = seq
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
    walk = _Walk(anchor_by_seq)
    iterator = iter(entries)
    for entry in iterator:
        walk.checked += 1
        fault = _entry_fault(entry, walk, iterator)
        if fault is not None:
            return walk.broken(fault)
    return _verdict_at_head(walk)


def _entry_fault(
    entry: Mapping[str, Any], walk: _Walk, rest: Iterator[Mapping[str, Any]]
) -> Fault | None:
    """The first thing wrong with the next entry, if any; an intact entry becomes the head."""
    try:
        seq = int(entry["seq"])
        stored_prev = str(entry["prev_hash"])
        stored_hash = str(entry["entry_hash"])
    except (KeyError, TypeError, ValueError):
        return (walk.expected_seq, "malformed", "entry lacks seq, prev_hash or entry_hash")
    fault = _position_fault(seq, walk.expected_seq)
    if fault is None:
        fault = _link_fault(entry, seq, stored_prev, walk.previous_hash, rest)
    if fault is None:
        fault = walk.anchor_fault(seq, stored_hash)
    if fault is None:
        walk.previous_hash = stored_hash
        walk.expected_seq += 1
    return fault


def _position_fault(seq: int, expected_seq: int) -> Fault | None:
    """An entry out of place: entries before it are missing, or it comes after a later one."""
    if seq > expected_seq:
        missing = (
            f"entry {expected_seq} is missing"
            if seq == expected_seq + 1
            else f"entries {expected_seq}..{seq - 1} are missing"
        )
        return (expected_seq, "removed", missing)
    if seq < expected_seq:
        return (seq, "reordered", f"entry {seq} appears after entry {expected_seq - 1}")
    return None


def _link_fault(
    entry: Mapping[str, Any],
    seq: int,
    stored_prev: str,
    previous_hash: str,
    rest: Iterator[Mapping[str, Any]],
) -> Fault | None:
    """An entry that does not chain to the verified head, or whose content does not match its
    own hash. Looking for a moved entry consumes ``rest``: the walk ends there anyway."""
    self_consistent = _hash_matches(entry)
    if stored_prev != previous_hash:
        origin = _appears_later(rest, stored_prev)
        if origin is not None:
            return (seq, "reordered", f"entry {seq} holds the entry written after entry {origin}")
        if self_consistent and seq > 1:
            # This entry is intact and points at a predecessor that no longer exists: the
            # predecessor was rewritten (its hash recomputed to hide the change).
            return (
                seq - 1,
                "altered",
                f"entry {seq - 1} was rewritten: entry {seq} no longer chains to it",
            )
        return (seq, "altered", f"entry {seq} does not chain to entry {seq - 1}")
    if not self_consistent:
        return (seq, "altered", f"entry {seq} content does not match its hash")
    return None


def _verdict_at_head(walk: _Walk) -> ChainVerdict:
    """Every entry verified: intact, unless an anchor was recorded beyond the head (entries
    were cut off the end)."""
    head = walk.expected_seq - 1
    beyond = sorted(seq for seq in walk.anchor_by_seq if seq > head)
    if beyond:
        return walk.broken(
            (
                head + 1,
                "removed",
                f"entries {head + 1}..{beyond[-1]} are missing: an anchor was recorded at entry "
                f"{beyond[-1]}",
            )
        )
    return ChainVerdict(
        True,
        walk.checked,
        head_seq=head,
        head_hash=walk.previous_hash,
        anchors_checked=walk.anchors_checked,
    )
