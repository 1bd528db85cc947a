"""The lookup structure washing relies on: membership and position of numbers in a registry's
sorted unique int64 set at about one random memory access per lookup.

The US registry holds about 250M numbers, and ``np.isin`` / ``pandas.isin`` against it run at
under 0.1M lookups/s (see DESIGN.md). ``NumberIndex`` keeps a bitmap per block of ten million
consecutive numbers (one NANP area code) instead, so a lookup is a division, a table read and one
bitmap read.
"""

from __future__ import annotations

import numpy as np

BLOCK = 10_000_000
"""Numbers per lookup block: one NANP area code, one AU ``4x`` mobile range."""


def block_groups(
    numbers: np.ndarray, block: int = BLOCK, max_walk: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of one block key (``n // block``) in a sorted array.

    Registry-sized sets span a few hundred blocks: those are walked with ``searchsorted``
    (no 2 GB array of keys); a set spread over very many blocks is scanned in chunks.
    """
    if not numbers.size:
        empty = np.empty(0, np.int64)
        return empty, empty
    starts: list[int] = []
    position = 0
    while position < numbers.size and len(starts) < max_walk:
        starts.append(position)
        key = int(numbers[position]) // block
        position = int(np.searchsorted(numbers, (key + 1) * block, side="left"))
    if position < numbers.size:
        found = [np.zeros(1, np.int64)]
        step = 1 << 22
        for offset in range(0, numbers.size, step):
            first = max(offset - 1, 0)
            keys = numbers[first : offset + step] // block
            found.append(np.flatnonzero(keys[1:] != keys[:-1]) + 1 + first)
        group_starts = np.unique(np.concatenate(found))
    else:
        group_starts = np.array(starts, dtype=np.int64)
    return group_starts, np.concatenate((group_starts[1:], [numbers.size])).astype(np.int64)


class NumberIndex:
    """Membership (and position) lookups against a sorted unique int64 set, ~one memory access each.

    Numbers are split into blocks of ``BLOCK`` consecutive values (10M: one NANP area code, one
    AU ``4x`` mobile range). A block holding at least ``BLOCK / 64`` numbers becomes a bitmap
    (1.25 MB, no larger than its numbers as int64); sparser blocks stay a sorted array searched
    with ``np.searchsorted``. Memory is therefore at most ~8 bytes per number, and a dense US
    registry of 250M numbers over ~300 area codes needs ~0.4 GB. A small table maps a block key
    to its bitmap slot, so a lookup is a division, a table read and one bitmap read.
    """

    BLOCK = BLOCK
    BLOCK_BYTES = BLOCK // 8
    DENSE_MIN_COUNT = BLOCK // 64
    LOOKUP_CHUNK = 1 << 20
    MAX_TABLE = 1 << 24

    def __init__(self, numbers: np.ndarray):
        numbers = np.asarray(numbers, dtype=np.int64)
        self.size = int(numbers.size)
        group_starts, group_ends = self._groups(numbers)
        group_keys = numbers[group_starts] // self.BLOCK
        dense = (group_ends - group_starts) >= self.DENSE_MIN_COUNT
        self.dense_keys = group_keys[dense]
        self.dense_starts = group_starts[dense]
        self.bitmap = np.zeros(int(dense.sum()) * self.BLOCK_BYTES, dtype=np.uint8)
        scratch = np.zeros(self.BLOCK, dtype=bool) if dense.any() else None
        for slot, (start, end, key) in enumerate(
            zip(
                group_starts[dense].tolist(),
                group_ends[dense].tolist(),
                self.dense_keys.tolist(),
                strict=True,
            )
        ):
            assert scratch is not None
            offsets = numbers[start:end] - key * self.BLOCK
            scratch[:] = False
            scratch[offsets] = True
            self.bitmap[slot * self.BLOCK_BYTES : (slot + 1) * self.BLOCK_BYTES] = np.packbits(
                scratch, bitorder="little"
            )
        sparse_parts = [
            np.arange(start, end, dtype=np.int64)
            for start, end in zip(
                group_starts[~dense].tolist(), group_ends[~dense].tolist(), strict=True
            )
        ]
        self.sparse_positions = (
            np.concatenate(sparse_parts) if sparse_parts else np.empty(0, np.int64)
        )
        self.sparse_numbers = numbers[self.sparse_positions]
        self.key_min = int(self.dense_keys[0]) if self.dense_keys.size else 0
        span = int(self.dense_keys[-1]) - self.key_min + 1 if self.dense_keys.size else 0
        self._table: np.ndarray | None = None
        if 0 < span <= self.MAX_TABLE:
            self._table = np.full(span, -1, dtype=np.int32)
            self._table[self.dense_keys - self.key_min] = np.arange(
                self.dense_keys.size, dtype=np.int32
            )
        self._word_ranks: np.ndarray | None = None

    @classmethod
    def _groups(cls, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return block_groups(numbers, cls.BLOCK)

    @property
    def nbytes(self) -> int:
        """Resident size of the structure (bitmaps, sparse arrays, tables)."""
        total = self.bitmap.nbytes + self.sparse_numbers.nbytes + self.sparse_positions.nbytes
        total += self.dense_keys.nbytes + self.dense_starts.nbytes
        total += self._table.nbytes if self._table is not None else 0
        total += self._word_ranks.nbytes if self._word_ranks is not None else 0
        return int(total)

    @property
    def dense_blocks(self) -> int:
        return int(self.dense_keys.size)

    def _slots(self, queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Bitmap slot of each query's block, -1 when its block is not a bitmap."""
        if not self.dense_keys.size:
            return np.full(queries.size, -1, np.int32)
        if self._table is not None:
            relative = keys - self.key_min
            inside = (relative >= 0) & (relative < self._table.size)
            slots = self._table[np.clip(relative, 0, self._table.size - 1)]
            return np.where(inside, slots, -1).astype(np.int32, copy=False)
        found = np.searchsorted(self.dense_keys, keys)
        found = np.minimum(found, self.dense_keys.size - 1)
        return np.where(self.dense_keys[found] == keys, found, -1).astype(np.int32)

    def _bit_positions(
        self, queries: np.ndarray, keys: np.ndarray, slots: np.ndarray
    ) -> np.ndarray:
        return np.maximum(slots, 0).astype(np.int64) * self.BLOCK + (queries - keys * self.BLOCK)

    def contains(self, queries: np.ndarray) -> np.ndarray:
        """Whether each query is in the set (bool array aligned with ``queries``)."""
        queries = np.asarray(queries, dtype=np.int64)
        result = np.empty(queries.size, dtype=bool)
        for start in range(0, queries.size, self.LOOKUP_CHUNK):
            chunk = queries[start : start + self.LOOKUP_CHUNK]
            keys = chunk // self.BLOCK
            slots = self._slots(chunk, keys)
            bits = self._bit_positions(chunk, keys, slots)
            found = (
                (self.bitmap[bits >> 3] >> (bits & 7).astype(np.uint8)) & 1
                if self.bitmap.size
                else np.zeros(chunk.size, np.uint8)
            )
            hit = found.astype(bool) & (slots >= 0)
            if self.sparse_numbers.size:
                outside = slots < 0
                if outside.any():
                    candidates = chunk[outside]
                    position = np.minimum(
                        np.searchsorted(self.sparse_numbers, candidates),
                        self.sparse_numbers.size - 1,
                    )
                    hit[outside] = self.sparse_numbers[position] == candidates
            result[start : start + chunk.size] = hit
        return result

    def _ranks(self) -> np.ndarray:
        """Set bits before each 64-bit word, counted from its block's start (built on demand)."""
        if self._word_ranks is None:
            words = self.bitmap.view(np.uint64).reshape(max(self.dense_blocks, 0), -1)
            counts = np.bitwise_count(words).astype(np.uint32)
            ranks = np.cumsum(counts, axis=1, dtype=np.uint32) - counts
            self._word_ranks = ranks.reshape(-1)
        return self._word_ranks

    def positions(self, queries: np.ndarray) -> np.ndarray:
        """Index of each query in the sorted set the index was built from, -1 when absent."""
        queries = np.asarray(queries, dtype=np.int64)
        result = np.full(queries.size, -1, dtype=np.int64)
        contained = self.contains(queries)
        if not contained.any():
            return result
        hits = queries[contained]
        keys = hits // self.BLOCK
        slots = self._slots(hits, keys)
        out = np.full(hits.size, -1, dtype=np.int64)
        in_bitmap = slots >= 0
        if in_bitmap.any():
            bits = self._bit_positions(hits[in_bitmap], keys[in_bitmap], slots[in_bitmap])
            words = self.bitmap.view(np.uint64)
            word_index = bits >> 6
            below = (np.uint64(1) << (bits & 63).astype(np.uint64)) - np.uint64(1)
            within = np.bitwise_count(words[word_index] & below).astype(np.int64)
            out[in_bitmap] = (
                self.dense_starts[slots[in_bitmap]]
                + self._ranks()[word_index].astype(np.int64)
                + within
            )
        if (~in_bitmap).any():
            sparse_hits = hits[~in_bitmap]
            found = np.searchsorted(self.sparse_numbers, sparse_hits)
            out[~in_bitmap] = self.sparse_positions[found]
        result[contained] = out
        return result
