"""Promotion: each candidate of a run becomes its registry's active version, the one before it
is superseded, and an audit entry records the change, all in one transaction.

The blocking checks of the run gate the promotion step; promotion re-checks before acting all
the same: the recorded check results must all have passed and the active version must still be
the one the candidate was built against (a concurrent refresh must not be silently overwritten).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.dncr.audit_actor import ACTOR
from cm_pipelines.dncr.refresh.registry_versions import (
    STATUS_ACTIVE,
    STATUS_CANDIDATE,
    STATUS_SUPERSEDED,
    active_version,
    as_utc,
    run_candidates,
)
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables import dncr as tables


def promote_run_candidates(
    connection: sa.Connection, run_id: str, now: datetime
) -> dict[str, dict[str, Any]]:
    """Promote every candidate this run built; per registry, the promoted version."""
    promoted: dict[str, dict[str, Any]] = {}
    for row in run_candidates(connection, run_id):
        if row["status"] != STATUS_CANDIDATE:
            continue
        current_id = _active_id_if_promotable(connection, row)
        _activate(connection, row, current_id, run_id, now)
        promoted[str(row["registry_id"])] = {
            "version_id": row["version_id"],
            "previous_version_id": current_id,
            "numbers": int(row["number_count"]),
        }
    return promoted


def _active_id_if_promotable(connection: sa.Connection, row: dict[str, Any]) -> str | None:
    """The active version's id, once the candidate's checks all passed and it was built against
    that very version; otherwise the run fails and the candidate stays a candidate."""
    registry_id = str(row["registry_id"])
    results = row["check_results"] or {}
    if not results or not all(item.get("passed") for item in results.values()):
        raise dg.Failure(
            description=f"registry {registry_id} version {row['version_id'][:12]}: its "
            "blocking checks have not all passed; it stays a candidate"
        )
    current = active_version(connection, registry_id)
    current_id = current["version_id"] if current else None
    if current_id != row["previous_version_id"]:
        raise dg.Failure(
            description=f"registry {registry_id}: the active version changed while this "
            "candidate was built; re-run the refresh to rebuild against it"
        )
    return current_id


def _activate(
    connection: sa.Connection,
    row: dict[str, Any],
    current_id: str | None,
    run_id: str,
    now: datetime,
) -> None:
    """Supersede the active version (if any), activate the candidate, audit the promotion."""
    registry_id = str(row["registry_id"])
    versions = tables.registry_versions
    if current_id is not None:
        connection.execute(
            sa.update(versions)
            .where(versions.c.registry_id == registry_id, versions.c.version_id == current_id)
            .values(status=STATUS_SUPERSEDED, superseded_at=now)
        )
    connection.execute(
        sa.update(versions)
        .where(
            versions.c.registry_id == registry_id,
            versions.c.version_id == row["version_id"],
        )
        .values(status=STATUS_ACTIVE, activated_at=now, promoted_run_id=run_id)
    )
    append_audit(
        connection,
        actor=ACTOR,
        action="dncr.registry_version_promoted",
        object_refs={
            "registry_id": registry_id,
            "version_id": row["version_id"],
            "previous_version_id": current_id,
            "parquet_sha256": row["parquet_sha256"],
        },
        details={
            "number_count": int(row["number_count"]),
            "added": row["added_count"],
            "removed": row["removed_count"],
            "data_as_of": as_utc(row["data_as_of"]),
            "source_kind": row["source_kind"],
            "source_files": len(row["source_files"] or []),
        },
        run_id=run_id,
    )
