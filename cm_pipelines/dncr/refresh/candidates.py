"""A candidate version: the next version of a registry built in memory with what its blocking
checks measure, and recording it (its Parquet, its ``registry_versions`` row, its quarantine).

A candidate's version id is a hash of its content and source files, so rebuilding the same
version finds the row it already has instead of adding another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from cm_pipelines.dncr.refresh.registry_versions import (
    STATUS_ACTIVE,
    STATUS_CANDIDATE,
    STATUS_SUPERSEDED,
    as_utc,
    version_path,
)
from cm_pipelines.dncr.refresh.version_parquet import numbers_to_parquet
from cm_pipelines.domain.dncr.content_hashing import content_hash, sha256_hex
from cm_pipelines.domain.dncr.evidence import evidence_instant
from cm_pipelines.domain.dncr.number_validity import country_validity
from cm_pipelines.domain.dncr.parsed_numbers import ParsedNumbers
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.dncr.wash_results import WashResultSet
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry, replace_quarantine
from cm_pipelines.tables import dncr as tables

QUARANTINE_ASSET = "dncr_registry_snapshot"


@dataclass
class Candidate:
    """A registry version built in memory, with what its blocking checks measure."""

    registry: Registry
    source_kind: str
    data_day: date
    numbers: np.ndarray
    registered: np.ndarray | None = None
    wash_days: np.ndarray | None = None
    lines_read: int = 0
    bad_lines: int = 0
    blank_lines: int = 0
    duplicate_lines: int = 0
    unreadable_files: int = 0
    change_additions: int = 0
    change_deletions: int = 0
    source_files: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[QuarantineEntry] = field(default_factory=list)

    def absorb(self, parsed: ParsedNumbers | WashResultSet) -> None:
        self.lines_read += parsed.lines_read
        self.bad_lines += parsed.bad_line_count
        self.blank_lines += parsed.blank_lines
        self.duplicate_lines += parsed.duplicate_count
        self.quarantine.extend(
            QuarantineEntry(
                source,
                line.line_number,
                line.reason_code,
                f"line {line.line_number}: {line.reason_code.replace('_', ' ')}",
                line.raw,
            )
            for source, line in parsed.bad_lines
        )
        kept = len(parsed.bad_lines)
        if parsed.bad_line_count > kept:
            self.quarantine.append(
                QuarantineEntry(
                    parsed.bad_lines[-1][0] if parsed.bad_lines else "registry",
                    None,
                    "more_bad_lines",
                    f"{parsed.bad_line_count - kept} further bad lines counted, not stored "
                    "(the source file is kept in the landing zone)",
                )
            )


def record_candidate(
    connection: sa.Connection,
    candidate: Candidate,
    active: dict[str, Any] | None,
    object_store: ObjectStoreResource,
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Write the candidate's Parquet and its registry_versions row; returns what was recorded."""
    registry = candidate.registry
    version_id, numbers_sha256 = _content_ids(candidate)
    versions = tables.registry_versions
    existing = connection.execute(
        sa.select(versions.c.status).where(
            versions.c.registry_id == registry.id, versions.c.version_id == version_id
        )
    ).first()
    if existing is not None and existing.status in (STATUS_ACTIVE, STATUS_SUPERSEDED):
        return {"version_id": version_id, "status": f"identical to {existing.status} version"}
    validity = country_validity(candidate.numbers, registry.country)
    parquet = numbers_to_parquet(candidate.numbers, candidate.registered, candidate.wash_days)
    path = version_path(registry.id, version_id)
    object_store.write_bytes(path, parquet)
    row = _version_row(
        candidate,
        active,
        version_id=version_id,
        numbers_sha256=numbers_sha256,
        invalid_numbers=validity.invalid_count,
        parquet_path=path,
        parquet=parquet,
        run_id=run_id,
        now=now,
    )
    if existing is not None:
        connection.execute(
            sa.delete(versions).where(
                versions.c.registry_id == registry.id, versions.c.version_id == version_id
            )
        )
    connection.execute(sa.insert(versions).values(**row))
    partition = f"{registry.id}:{candidate.data_day.isoformat()}"
    replace_quarantine(connection, QUARANTINE_ASSET, partition, candidate.quarantine, run_id)
    return row


def _content_ids(candidate: Candidate) -> tuple[str, str]:
    """(version id, numbers sha256): the same content from the same source files of the same
    day is the same version."""
    registry = candidate.registry
    payload: tuple[Any, ...] = (
        (candidate.registered, candidate.wash_days) if candidate.registered is not None else ()
    )
    sources = ",".join(sorted(str(item["sha256"]) for item in candidate.source_files))
    numbers_sha256 = content_hash(candidate.numbers)
    payload_sha256 = content_hash(*payload) if payload else ""
    # the numbers are hashed once (2 GB at US scale); the version id hashes that digest
    header = f"{registry.id}|{registry.kind}|{candidate.data_day.isoformat()}|{sources}"
    version_id = content_hash(header=f"{header}|{numbers_sha256}|{payload_sha256}")
    return version_id, numbers_sha256


def _version_row(
    candidate: Candidate,
    active: dict[str, Any] | None,
    *,
    version_id: str,
    numbers_sha256: str,
    invalid_numbers: int,
    parquet_path: str,
    parquet: bytes,
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The candidate's ``registry_versions`` row: what was measured, what it was built against
    (the active version), where its Parquet is; checks and promotion fill in the rest."""
    registry = candidate.registry
    return {
        "registry_id": registry.id,
        "version_id": version_id,
        "kind": registry.kind,
        "status": STATUS_CANDIDATE,
        "source_kind": candidate.source_kind,
        "data_as_of": evidence_instant(registry, candidate.data_day).astimezone(UTC),
        "number_count": int(candidate.numbers.size),
        "registered_count": (
            int(np.count_nonzero(candidate.registered))
            if candidate.registered is not None
            else None
        ),
        "lines_read": candidate.lines_read,
        "bad_lines": candidate.bad_lines,
        "blank_lines": candidate.blank_lines,
        "duplicate_lines": candidate.duplicate_lines,
        "invalid_numbers": invalid_numbers,
        "unreadable_files": candidate.unreadable_files,
        "change_additions": candidate.change_additions,
        "change_deletions": candidate.change_deletions,
        "previous_version_id": active["version_id"] if active else None,
        "previous_count": active["number_count"] if active else None,
        "previous_data_as_of": as_utc(active["data_as_of"]) if active else None,
        "added_count": None,
        "removed_count": None,
        "source_files": candidate.source_files,
        "numbers_sha256": numbers_sha256,
        "parquet_path": parquet_path,
        "parquet_sha256": sha256_hex(parquet),
        "parquet_bytes": len(parquet),
        "check_results": None,
        "rejection_reason": None,
        "created_at": now,
        "checked_at": None,
        "activated_at": None,
        "superseded_at": None,
        "rejected_at": None,
        "run_id": run_id,
        "promoted_run_id": None,
    }
