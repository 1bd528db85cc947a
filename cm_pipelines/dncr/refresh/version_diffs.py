"""What each candidate of a run changes against the version active when it was built: the
added and removed numbers to Parquet, their counts to the warehouse (for wash-only registries:
numbers newly registered / no longer registered)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from cm_pipelines.dncr.refresh.registry_versions import (
    STATUS_CANDIDATE,
    changes_path,
    read_version,
    run_candidates,
    version_rows,
)
from cm_pipelines.dncr.refresh.version_parquet import VersionContent, changes_to_parquet
from cm_pipelines.domain.dncr.content_hashing import sha256_hex
from cm_pipelines.domain.dncr.number_sets import diff_sorted, empty_numbers
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import dncr as tables


def record_run_changes(
    warehouse: WarehouseResource, object_store: ObjectStoreResource, run_id: str, now: datetime
) -> dict[str, dict[str, Any]]:
    """Diff and record every candidate this run built; per registry, what changed (counts)."""
    summary: dict[str, dict[str, Any]] = {}
    with warehouse.connect() as connection:
        candidates = [
            row for row in run_candidates(connection, run_id) if row["status"] == STATUS_CANDIDATE
        ]
    for row in candidates:
        registry_id = str(row["registry_id"])
        current = registered_set(read_version(object_store, row))
        previous = _previous_set(warehouse, object_store, row)
        added, removed = diff_sorted(previous, current)
        data = changes_to_parquet(added, removed)
        path = changes_path(registry_id, str(row["version_id"]))
        object_store.write_bytes(path, data)
        with warehouse.begin() as connection:
            _record_changes(connection, row, added, removed, path, data, run_id, now)
        summary[registry_id] = {
            "version_id": row["version_id"],
            "previous_version_id": row["previous_version_id"],
            "added": int(added.size),
            "removed": int(removed.size),
        }
    return summary


def registered_set(content: VersionContent) -> np.ndarray:
    """The numbers a version lists: all of them, or a wash-only registry's registered ones."""
    if content.registered is None:
        return content.numbers
    return content.numbers[content.registered]


def _previous_set(
    warehouse: WarehouseResource, object_store: ObjectStoreResource, row: dict[str, Any]
) -> np.ndarray:
    """The listed numbers of the version the candidate was built against (none: empty)."""
    if not row["previous_version_id"]:
        return empty_numbers()
    with warehouse.connect() as connection:
        previous_rows = [
            item
            for item in version_rows(connection, str(row["registry_id"]))
            if item["version_id"] == row["previous_version_id"]
        ]
    if not previous_rows:
        return empty_numbers()
    return registered_set(read_version(object_store, previous_rows[0]))


def _record_changes(
    connection: sa.Connection,
    row: dict[str, Any],
    added: np.ndarray,
    removed: np.ndarray,
    path: str,
    data: bytes,
    run_id: str,
    now: datetime,
) -> None:
    """The ``registry_changes`` row (replacing one of an earlier attempt) and the counts on the
    candidate's version row."""
    registry_id = str(row["registry_id"])
    changes = tables.registry_changes
    connection.execute(
        sa.delete(changes).where(
            changes.c.registry_id == registry_id, changes.c.version_id == row["version_id"]
        )
    )
    connection.execute(
        sa.insert(changes).values(
            registry_id=registry_id,
            version_id=row["version_id"],
            previous_version_id=row["previous_version_id"],
            added_count=int(added.size),
            removed_count=int(removed.size),
            changes_path=path,
            changes_sha256=sha256_hex(data),
            created_at=now,
            run_id=run_id,
        )
    )
    versions = tables.registry_versions
    connection.execute(
        sa.update(versions)
        .where(
            versions.c.registry_id == registry_id,
            versions.c.version_id == row["version_id"],
        )
        .values(added_count=int(added.size), removed_count=int(removed.size))
    )
