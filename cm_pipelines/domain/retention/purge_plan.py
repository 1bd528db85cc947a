"""The purge plan's items: the due artefacts in purge order (children before parents, landing
files last), numbered and cut into batches that one object-store request can take."""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_OBJECT_BATCH = 1000  # S3 DeleteObjects takes at most 1,000 keys per request

PURGE_ORDER: tuple[str, ...] = (
    "transcripts",
    "ai_summaries",
    "crm_links",
    "recordings",
    "call_logs",
    "wash_results",
    "blocked_calls",
    "dncr_check_records",
    "dsar_case_files",
    "quarantine_records",
    "crm_link_files",
    "cdr_files",
)
"""Children before parents: a purge killed midway never leaves a derived artefact orphaned.
Landing files come last: their rows (and quarantined lines) are marked before the file goes."""

ITEM_COLUMNS: tuple[str, ...] = (
    "item_no",
    "batch_no",
    "tenant_id",
    "record_type",
    "artefact_id",
    "call_id",
    "object_path",
    "object_sha256",
    "policy_version",
    "basis",
    "expires_on",
)


def plan_items(
    states: pd.DataFrame,
    *,
    tenant_id: str | None = None,
    object_batch_size: int = MAX_OBJECT_BATCH,
    row_batch_size: int = 10_000,
) -> pd.DataFrame:
    """The due artefacts in purge order (children first), numbered and cut into batches.

    A batch holds either artefacts with objects (at most ``object_batch_size``, <= 1,000 so one
    DeleteObjects request takes it) or row-only artefacts (at most ``row_batch_size``).
    """
    if not 1 <= object_batch_size <= MAX_OBJECT_BATCH:
        raise ValueError(f"object_batch_size must be 1-{MAX_OBJECT_BATCH}")
    if row_batch_size < 1:
        raise ValueError("row_batch_size must be at least 1")
    due = states.loc[states["state"] == "due"]
    if tenant_id is not None:
        due = due.loc[due["tenant_id"] == tenant_id]
    rank = {name: index for index, name in enumerate(PURGE_ORDER)}
    items = pd.DataFrame(
        {
            "tenant_id": due["tenant_id"].to_numpy(),
            "record_type": due["record_type"].to_numpy(),
            "artefact_id": due["artefact_id"].astype(str).to_numpy(),
            "call_id": due["call_id"].to_numpy(),
            "object_path": due["object_path"].to_numpy(),
            "object_sha256": due["object_sha256"].to_numpy(),
            "policy_version": due["policy_version"].to_numpy(),
            "basis": due["expiry_basis"].to_numpy(),
            "expires_on": due["expires_on"].to_numpy(),
            "_rank": due["record_type"].map(rank).to_numpy(),
        }
    )
    items["object_path"] = items["object_path"].where(items["object_path"].notna(), None)
    items = items.sort_values(["_rank", "tenant_id", "artefact_id"], kind="stable").reset_index(
        drop=True
    )
    has_object = items["object_path"].notna().to_numpy()
    run_starts = np.ones(len(items), dtype=bool)
    if len(items) > 1:
        run_starts[1:] = has_object[1:] != has_object[:-1]
    run_id = np.cumsum(run_starts) - 1
    position = np.arange(len(items)) - np.maximum.accumulate(
        np.where(run_starts, np.arange(len(items)), 0)
    )
    chunk = position // np.where(has_object, object_batch_size, row_batch_size)
    change = np.ones(len(items), dtype=bool)
    if len(items) > 1:
        change[1:] = (run_id[1:] != run_id[:-1]) | (chunk[1:] != chunk[:-1])
    items["batch_no"] = np.cumsum(change)
    items["item_no"] = np.arange(1, len(items) + 1)
    return items.loc[:, list(ITEM_COLUMNS)]
