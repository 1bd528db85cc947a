"""Registry versions: their status, where their Parquet lives, their ``registry_versions``
rows, and reading one back only if its bytes are the ones recorded at build."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.dncr.refresh.version_parquet import VersionContent, parquet_to_numbers
from cm_pipelines.domain.dncr.content_hashing import sha256_hex
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.tables import dncr as tables

STATUS_CANDIDATE, STATUS_ACTIVE = "candidate", "active"
STATUS_REJECTED, STATUS_SUPERSEDED = "rejected", "superseded"


class RegistryIntegrityError(RuntimeError):
    """A promoted version's Parquet is missing or differs from what was recorded at promotion."""


def version_path(registry_id: str, version_id: str) -> str:
    """Parquet of one registry version's numbers (and wash results)."""
    return f"{landing.REGISTRY}/{registry_id}/versions/{version_id}.parquet"


def changes_path(registry_id: str, version_id: str) -> str:
    """Parquet of a version's additions and removals against the version before it."""
    return f"{landing.REGISTRY}/{registry_id}/changes/{version_id}.parquet"


def read_version(object_store: ObjectStoreResource, row: Mapping[str, Any]) -> VersionContent:
    """A version's content, refused unless its bytes hash to what the warehouse recorded."""
    try:
        data = object_store.read_bytes(str(row["parquet_path"]))
    except FileNotFoundError as exc:
        raise RegistryIntegrityError(
            f"registry {row['registry_id']} version {row['version_id']}: Parquet is missing"
        ) from exc
    if sha256_hex(data) != row["parquet_sha256"]:
        raise RegistryIntegrityError(
            f"registry {row['registry_id']} version {row['version_id']}: Parquet sha256 "
            "differs from the one recorded at build; refusing to decide on it"
        )
    return parquet_to_numbers(data)


def version_rows(
    connection: sa.Connection, registry_id: str, statuses: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    versions = tables.registry_versions
    query = sa.select(versions).where(versions.c.registry_id == registry_id)
    if statuses is not None:
        query = query.where(versions.c.status.in_(list(statuses)))
    return [
        dict(row) for row in connection.execute(query.order_by(versions.c.created_at)).mappings()
    ]


def active_version(connection: sa.Connection, registry_id: str) -> dict[str, Any] | None:
    rows = version_rows(connection, registry_id, [STATUS_ACTIVE])
    if len(rows) > 1:
        raise RegistryIntegrityError(f"registry {registry_id} has {len(rows)} active versions")
    return rows[0] if rows else None


def run_candidates(connection: sa.Connection, run_id: str) -> list[dict[str, Any]]:
    """Candidate versions built by this run (what its checks and promotion act on)."""
    versions = tables.registry_versions
    query = sa.select(versions).where(versions.c.run_id == run_id).order_by(versions.c.registry_id)
    return [dict(row) for row in connection.execute(query).mappings()]


def as_utc(value: datetime | None) -> datetime | None:
    """Warehouse timestamps as aware UTC (SQLite returns naive UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def consumed_paths(connection: sa.Connection, registry_id: str) -> set[str]:
    """Source files a promoted (active or superseded) version of the registry was built from."""
    consumed: set[str] = set()
    for row in version_rows(connection, registry_id, [STATUS_ACTIVE, STATUS_SUPERSEDED]):
        consumed.update(str(item["path"]) for item in row["source_files"] or [])
    return consumed
