"""Change lists: applying a registry's additions and deletions to its active set, and which
action a change-list file name says."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cm_pipelines.domain.dncr.number_sets import membership, union_sorted


@dataclass(frozen=True)
class ChangeApplication:
    numbers: np.ndarray
    additions_applied: int
    deletions_applied: int
    additions_already_present: int
    deletions_not_present: int
    conflicts: int


def apply_changes(
    base: np.ndarray, additions: np.ndarray, deletions: np.ndarray
) -> ChangeApplication:
    """Apply a change list to a sorted unique set.

    A number both added and deleted by the same change list counts as a conflict and stays
    listed: wrongly keeping a number blocks a call, wrongly dropping it allows an illegal one.
    """
    conflict = membership(additions, deletions)
    deletions = deletions[~conflict]
    delete_mask = membership(deletions, base)
    kept = base[~delete_mask]
    new_mask = ~membership(base, additions)
    fresh = additions[new_mask]
    numbers, _ = union_sorted([kept, fresh]) if fresh.size else (kept, 0)
    return ChangeApplication(
        numbers=numbers,
        additions_applied=int(fresh.size),
        deletions_applied=int(np.count_nonzero(delete_mask)),
        additions_already_present=int(additions.size - fresh.size),
        deletions_not_present=int(deletions.size - np.count_nonzero(delete_mask)),
        conflicts=int(np.count_nonzero(conflict)),
    )


def change_list_action(name: str) -> str | None:
    """``additions``/``deletions`` from a change-list file name, else None (lines carry A/D)."""
    stem = name.rsplit("/", 1)[-1].lower()
    if "deletion" in stem or "_del" in stem or "removal" in stem:
        return "deletions"
    if "addition" in stem or "_add" in stem:
        return "additions"
    return None
