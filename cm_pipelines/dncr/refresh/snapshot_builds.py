"""The snapshot's build step: for each selected registry, the files its next version is built
from, and building and recording that version as a candidate, with the step's metadata."""

from __future__ import annotations

import time as clock
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import dagster as dg

from cm_pipelines.dncr.refresh.candidate_builds import build_downloadable, build_wash_only
from cm_pipelines.dncr.refresh.candidates import record_candidate
from cm_pipelines.dncr.refresh.download_plans import plan_downloadable
from cm_pipelines.dncr.refresh.registry_sources import RegistrySource, SourceFile
from cm_pipelines.dncr.refresh.registry_versions import (
    STATUS_CANDIDATE,
    active_version,
    consumed_paths,
)
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource


def files_to_parse(
    registries: Sequence[Registry],
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    source_day: str,
    now: datetime,
) -> Iterator[tuple[Registry, SourceFile]]:
    """Each landed file the next version of each downloadable registry is built from (wash-only
    registries have nothing to split)."""
    for registry in registries:
        if not registry.is_downloadable:
            continue
        source = RegistrySource(registry, object_store)
        with warehouse.connect() as connection:
            active = active_version(connection, registry.id)
        plan, _ = plan_downloadable(registry, source, active, source_day, now)
        if plan is None:
            continue
        for item in plan.files():
            yield registry, item


def build_snapshots(
    registries: Sequence[Registry],
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    *,
    source_day: str,
    now: datetime,
    part_paths: Mapping[str, Mapping[str, str]],
    run_id: str,
    log: dg.DagsterLogManager,
) -> dict[str, Any]:
    """Build and record the next candidate of each registry; the step's metadata (counts, ids,
    versions; never a number)."""
    summary: dict[str, dict[str, Any]] = {}
    started = clock.perf_counter()
    for registry in registries:
        summary[registry.id] = _build_snapshot(
            registry,
            warehouse,
            object_store,
            source_day=source_day,
            now=now,
            parts=part_paths.get(registry.id, {}),
            run_id=run_id,
            log=log,
        )
    candidates = [item for item in summary.values() if item["status"] == STATUS_CANDIDATE]
    return {
        "registries": dg.MetadataValue.json(summary),
        "candidates": len(candidates),
        "numbers_in_candidates": sum(int(item["numbers"]) for item in candidates),
        "bad_lines": sum(int(item["bad_lines"]) for item in candidates),
        "duration_s": round(clock.perf_counter() - started, 2),
    }


def _build_snapshot(
    registry: Registry,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    *,
    source_day: str,
    now: datetime,
    parts: Mapping[str, str],
    run_id: str,
    log: dg.DagsterLogManager,
) -> dict[str, Any]:
    """One registry's candidate built and recorded; its summary, or why there is none."""
    source = RegistrySource(registry, object_store)
    with warehouse.connect() as connection:
        active = active_version(connection, registry.id)
        consumed = consumed_paths(connection, registry.id)
    if registry.is_downloadable:
        candidate, note = build_downloadable(
            registry, source, active, object_store, source_day, now, parts
        )
    else:
        candidate, note = build_wash_only(registry, source, active, consumed, object_store, now)
    if candidate is None:
        log.info(f"registry {registry.id}: {note}")
        return {"status": note}
    with warehouse.begin() as connection:
        row = record_candidate(connection, candidate, active, object_store, run_id, now)
    if row["status"] != STATUS_CANDIDATE:
        log.info(f"registry {registry.id}: version {row['version_id'][:12]} {row['status']}")
        return {"status": str(row["status"]), "version_id": row["version_id"]}
    if candidate.bad_lines or candidate.unreadable_files:
        log.warning(
            f"registry {registry.id}: {candidate.bad_lines} bad line(s), "
            f"{candidate.unreadable_files} unreadable file(s) quarantined"
        )
    return {
        "status": STATUS_CANDIDATE,
        "version_id": row["version_id"],
        "source_kind": row["source_kind"],
        "data_day": candidate.data_day.isoformat(),
        "numbers": row["number_count"],
        "lines_read": row["lines_read"],
        "bad_lines": row["bad_lines"],
        "invalid_numbers": row["invalid_numbers"],
        "unreadable_files": row["unreadable_files"],
        "files": len(candidate.source_files),
    }
