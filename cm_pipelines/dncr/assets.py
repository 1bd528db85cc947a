"""Do-not-call registries in Dagster: guarded refresh of registry versions, and washing.

``dncr_registry_refresh_job`` builds the next version of each registry (a full download, change
lists applied to the active version, or newly returned wash results merged into it), records it
as a *candidate*, diffs it against the active version, runs the blocking checks of
``cm_pipelines.dncr.checks`` and only then promotes it. A failed check leaves the active
version in place, rejects the candidate (audited) and fails the run naming the check and why.

``dncr_wash_job`` ingests consents and washes every campaign list of each tenant against the
active versions, the tenant's suppression list and consents: every number gets a decision,
blocked ones become ``blocked_calls`` evidence (hashed number), allowed ones are exported per
campaign (minus DSAR-restricted numbers), and numbers a wash-only registry has no fresh result
for are exported as wash requests.

Metadata carries counts, ids, versions and hashes; never a number.
"""

# No ``from __future__ import annotations``: Dagster reads the config classes from the asset
# signatures at definition time and cannot resolve string annotations.
import io
import posixpath
import time as clock
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import sqlalchemy as sa

from cm_pipelines.dncr.registry_parts import (
    ADDITIONS,
    PartSegment,
    RegistryPart,
    parse_source_file,
    part_from_parquet,
    part_path,
    part_to_parquet,
)
from cm_pipelines.dncr.registry_store import (
    ACTOR,
    STATUS_ACTIVE,
    STATUS_CANDIDATE,
    STATUS_SUPERSEDED,
    CampaignFileError,
    RegistrySource,
    SourceFile,
    active_version,
    allowed_export_csv,
    allowed_export_path,
    as_utc,
    campaigns_prefix,
    changes_path,
    changes_to_parquet,
    file_stamp,
    load_evidence,
    numbers_to_parquet,
    read_campaign_csv,
    read_version,
    restricted_hashes,
    run_candidates,
    sha256_hex,
    suppressed_hashes,
    tenant_consents,
    version_path,
    version_rows,
    wash_request_csv,
    wash_request_path,
)
from cm_pipelines.dncr.run_config import (
    AREA_CODE_FILES_OP,
    BUILD_SNAPSHOT_OP,
    PARSE_AREA_CODE_FILE_OP,
    RegistryRefreshConfig,
    WashConfig,
)
from cm_pipelines.domain.dncr.change_lists import apply_changes
from cm_pipelines.domain.dncr.content_hashing import content_hash
from cm_pipelines.domain.dncr.evidence import evidence_instant, local_day
from cm_pipelines.domain.dncr.exemptions import CONSENT_KINDS
from cm_pipelines.domain.dncr.number_preparation import prepare_numbers
from cm_pipelines.domain.dncr.number_sets import diff_sorted, empty_numbers
from cm_pipelines.domain.dncr.number_validity import country_validity
from cm_pipelines.domain.dncr.parsed_numbers import ParsedNumbers, UnreadableFileError, combine
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.dncr.wash_results import (
    WashResultSet,
    merge_wash_results,
    parse_wash_results,
)
from cm_pipelines.domain.dncr.washing import wash
from cm_pipelines.domain.dncr.zip_payloads import file_payloads
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform import landing, settings
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry, replace_quarantine
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import dncr as tables

DNCR_GROUP = "dncr"
QUARANTINE_ASSET = "dncr_registry_snapshot"
_CAMPAIGN_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _instant(value: str, what: str) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise dg.Failure(
            description=f"{what} must be an ISO date-time, e.g. 2026-11-28T09:00:00+00:00"
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _selected_registries(
    platform_config: PlatformConfigResource, registry_ids: list[str]
) -> list[Registry]:
    registries = platform_config.registries()
    if not registry_ids:
        return registries
    by_id = {registry.id: registry for registry in registries}
    unknown = sorted(set(registry_ids) - set(by_id))
    if unknown:
        raise dg.Failure(
            description=f"unknown registry id(s) {unknown}: configured are {sorted(by_id)}"
        )
    return [by_id[registry_id] for registry_id in registry_ids]


# --------------------------------------------------------------------------- building candidates


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


def _load(
    source: RegistrySource, item: SourceFile, candidate: Candidate
) -> list[tuple[str, bytes]]:
    """Read and unzip one file; an unreadable file is counted, quarantined and recorded."""
    data = source.read(item)
    record: dict[str, Any] = {"path": item.path, "role": item.role, "day": item.day}
    record.update(bytes=len(data), sha256=sha256_hex(data))
    candidate.source_files.append(record)
    try:
        return file_payloads(item.name, data)
    except UnreadableFileError as exc:
        candidate.unreadable_files += 1
        record["unreadable"] = exc.reason_code
        candidate.quarantine.append(QuarantineEntry(item.path, None, exc.reason_code, exc.detail))
        return []


def _part_of(
    source: RegistrySource, item: SourceFile, parts: Mapping[str, str] | None
) -> RegistryPart:
    """The file's part written by a parse step of this run, else the file parsed here."""
    location = (parts or {}).get(item.path)
    if location is not None:
        return part_from_parquet(source.object_store.read_bytes(location))
    return parse_source_file(source.registry, item, source.read(item))


def _replay(candidate: Candidate, part: RegistryPart) -> list[PartSegment]:
    """Record the part's file on the candidate; its segments unless the file was unreadable."""
    candidate.source_files.append(part.source_file)
    if part.unreadable is not None:
        reason_code, detail = part.unreadable
        candidate.unreadable_files += 1
        path = str(part.source_file["path"])
        candidate.quarantine.append(QuarantineEntry(path, None, reason_code, detail))
        return []
    return part.segments


def _read_full(
    source: RegistrySource,
    files: list[SourceFile],
    candidate: Candidate,
    parts: Mapping[str, str] | None,
) -> np.ndarray:
    parsed: list[ParsedNumbers] = []
    for item in files:
        for segment in _replay(candidate, _part_of(source, item, parts)):
            assert segment.parsed is not None
            parsed.append(segment.parsed)
    merged = combine(parsed)
    candidate.absorb(merged)
    return merged.numbers


def _read_changes(
    source: RegistrySource,
    files: list[SourceFile],
    candidate: Candidate,
    parts: Mapping[str, str] | None,
) -> tuple[np.ndarray, np.ndarray]:
    additions: list[ParsedNumbers] = []
    deletions: list[ParsedNumbers] = []
    for item in files:
        for segment in _replay(candidate, _part_of(source, item, parts)):
            if segment.parsed is None:
                candidate.unreadable_files += 1
                candidate.quarantine.append(
                    QuarantineEntry(
                        item.path,
                        None,
                        "unknown_change_action",
                        "change-list file name must say additions or deletions",
                    )
                )
                continue
            (additions if segment.action == ADDITIONS else deletions).append(segment.parsed)
            if segment.absorb:
                candidate.absorb(segment.parsed)
    return combine(additions).numbers, combine(deletions).numbers


@dataclass
class DownloadPlan:
    """Which full download (if any) and change-list days the next version is built from."""

    base_day: str | None
    apply_days: list[str]
    full_days: dict[str, list[SourceFile]]
    change_days: dict[str, list[SourceFile]]

    def files(self) -> list[SourceFile]:
        chosen = list(self.full_days[self.base_day]) if self.base_day is not None else []
        for day in self.apply_days:
            chosen.extend(self.change_days[day])
        return chosen


def _plan_downloadable(
    registry: Registry,
    source: RegistrySource,
    active: dict[str, Any] | None,
    source_day: str,
    now: datetime,
) -> tuple[DownloadPlan | None, str]:
    """What the next version of a downloadable registry is built from, or None and why not.

    Folders dated after the registry's today are left for their day unless ``source_day`` names
    one (the blocking checks then refuse data from the future).
    """
    today = local_day(registry, now).isoformat()
    full_days = source.days("full")
    change_days = source.days("changes")
    if not source_day:
        full_days = {day: files for day, files in full_days.items() if day <= today}
        change_days = {day: files for day, files in change_days.items() if day <= today}
    active_as_of = as_utc(active["data_as_of"]) if active else None
    active_day = local_day(registry, active_as_of) if active_as_of else None
    base_day: str | None = None
    apply_days: list[str]
    if source_day:
        if source_day in full_days:
            base_day, apply_days = source_day, []
        elif source_day in change_days:
            if active is None:
                return None, f"no active version to apply the change list of {source_day} to"
            apply_days = [source_day]
        else:
            raise dg.Failure(
                description=f"registry {registry.id}: no full download or change list of day "
                f"{source_day} in its source folder"
            )
    else:
        newer_full = [
            day for day in full_days if active_day is None or date.fromisoformat(day) > active_day
        ]
        if newer_full:
            base_day = newer_full[-1]
            apply_days = [day for day in change_days if day > base_day]
        elif active is None:
            return None, "no full download yet (a change list needs a version to apply to)"
        else:
            apply_days = [
                day for day in change_days if active_day and date.fromisoformat(day) > active_day
            ]
            if not apply_days:
                return (
                    None,
                    "up to date: no full download or change list newer than the active version",
                )
    return DownloadPlan(base_day, apply_days, full_days, change_days), "planned"


def _build_downloadable(
    registry: Registry,
    source: RegistrySource,
    active: dict[str, Any] | None,
    object_store: ObjectStoreResource,
    source_day: str,
    now: datetime,
    parts: Mapping[str, str] | None = None,
) -> tuple[Candidate | None, str]:
    """The next version of a downloadable registry, or None and why there is none.

    ``parts`` maps a source path to the part a parse step wrote for it; files without one are
    parsed here, so the result is the same either way.
    """
    plan, note = _plan_downloadable(registry, source, active, source_day, now)
    if plan is None:
        return None, note
    base_day, apply_days = plan.base_day, plan.apply_days
    last_day = apply_days[-1] if apply_days else base_day
    assert last_day is not None
    candidate = Candidate(registry, "", date.fromisoformat(last_day), empty_numbers())
    if base_day is not None:
        numbers = _read_full(source, plan.full_days[base_day], candidate, parts)
        kinds = ["full"]
    else:
        assert active is not None
        numbers = read_version(object_store, active).numbers
        kinds = []
    for day in apply_days:
        additions, deletions = _read_changes(source, plan.change_days[day], candidate, parts)
        applied = apply_changes(numbers, additions, deletions)
        numbers = applied.numbers
        candidate.change_additions += applied.additions_applied
        candidate.change_deletions += applied.deletions_applied
    if apply_days:
        kinds.append("changes")
    candidate.source_kind = "+".join(kinds)
    candidate.numbers = numbers
    return candidate, "built"


def _consumed_paths(connection: sa.Connection, registry_id: str) -> set[str]:
    consumed: set[str] = set()
    for row in version_rows(connection, registry_id, [STATUS_ACTIVE, STATUS_SUPERSEDED]):
        consumed.update(str(item["path"]) for item in row["source_files"] or [])
    return consumed


def _build_wash_only(
    registry: Registry,
    source: RegistrySource,
    active: dict[str, Any] | None,
    consumed: set[str],
    object_store: ObjectStoreResource,
    now: datetime,
) -> tuple[Candidate | None, str]:
    """Active results merged with result files no promoted version has consumed yet."""
    new_files = [item for item in source.files("wash_results") if item.path not in consumed]
    if not new_files:
        return None, "up to date: no new wash result files"
    today = local_day(registry, now)
    candidate = Candidate(registry, "wash_results", today, empty_numbers())
    parsed_sets: list[WashResultSet] = []
    for item in new_files:
        for _, payload in _load(source, item, candidate):
            try:
                parsed = parse_wash_results(
                    payload, calling_code=registry.calling_code, source=item.path, latest_day=today
                )
            except UnreadableFileError as exc:
                candidate.unreadable_files += 1
                candidate.quarantine.append(
                    QuarantineEntry(item.path, None, exc.reason_code, exc.detail)
                )
                continue
            candidate.absorb(parsed)
            parsed_sets.append(parsed)
    previous = None
    if active is not None:
        content = read_version(object_store, active)
        assert content.registered is not None and content.wash_days is not None
        previous = WashResultSet(content.numbers, content.registered, content.wash_days)
    merged = merge_wash_results(previous, parsed_sets)
    candidate.numbers = merged.numbers
    candidate.registered = merged.registered
    candidate.wash_days = merged.wash_days
    newest = merged.newest_wash_day
    candidate.data_day = newest if newest is not None else today
    candidate.change_additions = len(merged) - (len(previous) if previous is not None else 0)
    return candidate, "built"


def _record_candidate(
    connection: sa.Connection,
    candidate: Candidate,
    active: dict[str, Any] | None,
    object_store: ObjectStoreResource,
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Write the candidate's Parquet and its registry_versions row; returns what was recorded."""
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
    row = {
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
        "invalid_numbers": validity.invalid_count,
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
        "parquet_path": path,
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


def _mapping_key(registry_id: str, index: int) -> str:
    safe = "".join(char if char.isalnum() else "_" for char in registry_id)
    return f"{safe}_{index:06d}"


@dg.op(name=AREA_CODE_FILES_OP, out=dg.DynamicOut(dict), tags={"cm/pii": "phone"})
def dncr_registry_area_code_files(
    context: dg.OpExecutionContext,
    config: RegistryRefreshConfig,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
):
    """One output per landed file (a full download is one zip per area code, a change list one
    per area code and action) the next version of each downloadable registry is built from, so
    the parse steps can run on separate workers. Wash-only registries have nothing to split;
    with no output at all the merge step still runs, on an empty list."""
    warehouse.assert_schema_current()
    now = _instant(config.as_of, "as_of")
    planned = 0
    for registry in _selected_registries(platform_config, config.registry_ids):
        if not registry.is_downloadable:
            continue
        source = RegistrySource(registry, object_store)
        with warehouse.connect() as connection:
            active = active_version(connection, registry.id)
        plan, _ = _plan_downloadable(registry, source, active, config.source_day, now)
        if plan is None:
            continue
        for item in plan.files():
            described: dict[str, Any] = {"registry_id": registry.id, "path": item.path}
            described.update(role=item.role, day=item.day, size=item.size)
            yield dg.DynamicOutput(described, mapping_key=_mapping_key(registry.id, planned))
            planned += 1
    context.log.info(f"{planned} registry file(s) to parse")


@dg.op(name=PARSE_AREA_CODE_FILE_OP, tags={"cm/pii": "phone"})
def dncr_registry_parse_area_code_file(
    context: dg.OpExecutionContext,
    source_file: dict,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dict:
    """Parse one area-code file into a content-addressed part under the registry's prefix
    (sorted int64 numbers, parse counts, kept bad lines); an existing part is reused."""
    registries = {registry.id: registry for registry in platform_config.registries()}
    registry = registries[str(source_file["registry_id"])]
    item = SourceFile(
        str(source_file["path"]),
        str(source_file["role"]),
        source_file["day"],
        int(source_file["size"]),
    )
    source = RegistrySource(registry, object_store)
    data = source.read(item)
    location = part_path(registry, item, sha256_hex(data))
    reused = object_store.exists(location)
    if not reused:
        part = parse_source_file(registry, item, data)
        object_store.write_bytes(location, part_to_parquet(part))
    context.add_output_metadata({"registry_id": registry.id, "part": location, "reused": reused})
    return {"registry_id": registry.id, "path": item.path, "part_path": location}


@dg.op(name=BUILD_SNAPSHOT_OP, tags={"cm/pii": "phone"})
def dncr_registry_build_snapshot(
    context: dg.OpExecutionContext,
    config: RegistryRefreshConfig,
    parts: list,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
):
    """Merge the parts of each registry (files without a part are parsed here) into the
    next candidate version, exactly as a one-step parse would."""
    part_paths: dict[str, dict[str, str]] = {}
    for described in parts:
        registry_parts = part_paths.setdefault(str(described["registry_id"]), {})
        registry_parts[str(described["path"])] = str(described["part_path"])
    metadata = _build_snapshots(
        context, config, warehouse, object_store, platform_config, part_paths
    )
    return dg.Output(None, metadata=metadata)


def _snapshot_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot's one config block feeds both the file planner and the merge step."""
    values = {"config": dict(config)}
    return {AREA_CODE_FILES_OP: values, BUILD_SNAPSHOT_OP: values}


@dg.graph_asset(
    name="dncr_registry_snapshot",
    group_name=DNCR_GROUP,
    kinds={"python", "parquet"},
    tags={"cm/pii": "phone"},
    config=dg.ConfigMapping(
        config_fn=_snapshot_config, config_schema=RegistryRefreshConfig.to_config_schema()
    ),
)
def dncr_registry_snapshot():
    """Next version of each registry as a *candidate*: sorted unique int64 E.164 numbers (and,
    for wash-only registries, each number's latest result) in Parquet, version id = a hash of
    its content and source files, with the counts its blocking checks judge. Bad lines are
    quarantined, never dropped. Parsing is split by area-code file (one dynamic step each)."""
    files = dncr_registry_area_code_files()
    return dncr_registry_build_snapshot(files.map(dncr_registry_parse_area_code_file).collect())


def _build_snapshots(
    context: dg.OpExecutionContext,
    config: RegistryRefreshConfig,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
    part_paths: Mapping[str, Mapping[str, str]],
) -> dict[str, Any]:
    warehouse.assert_schema_current()
    now = _instant(config.as_of, "as_of")
    summary: dict[str, dict[str, Any]] = {}
    started = clock.perf_counter()
    for registry in _selected_registries(platform_config, config.registry_ids):
        source = RegistrySource(registry, object_store)
        with warehouse.connect() as connection:
            active = active_version(connection, registry.id)
            consumed = _consumed_paths(connection, registry.id)
        if registry.is_downloadable:
            candidate, note = _build_downloadable(
                registry,
                source,
                active,
                object_store,
                config.source_day,
                now,
                part_paths.get(registry.id, {}),
            )
        else:
            candidate, note = _build_wash_only(
                registry, source, active, consumed, object_store, now
            )
        if candidate is None:
            summary[registry.id] = {"status": note}
            context.log.info(f"registry {registry.id}: {note}")
            continue
        with warehouse.begin() as connection:
            row = _record_candidate(
                connection, candidate, active, object_store, context.run.run_id, now
            )
        if row["status"] != STATUS_CANDIDATE:
            summary[registry.id] = {"status": str(row["status"]), "version_id": row["version_id"]}
            context.log.info(
                f"registry {registry.id}: version {row['version_id'][:12]} {row['status']}"
            )
            continue
        summary[registry.id] = {
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
        if candidate.bad_lines or candidate.unreadable_files:
            context.log.warning(
                f"registry {registry.id}: {candidate.bad_lines} bad line(s), "
                f"{candidate.unreadable_files} unreadable file(s) quarantined"
            )
    candidates = [item for item in summary.values() if item["status"] == STATUS_CANDIDATE]
    return {
        "registries": dg.MetadataValue.json(summary),
        "candidates": len(candidates),
        "numbers_in_candidates": sum(int(item["numbers"]) for item in candidates),
        "bad_lines": sum(int(item["bad_lines"]) for item in candidates),
        "duration_s": round(clock.perf_counter() - started, 2),
    }


def _registered_set(content: Any) -> np.ndarray:
    if content.registered is None:
        return content.numbers
    return content.numbers[content.registered]


@dg.asset(
    group_name=DNCR_GROUP,
    deps=[dncr_registry_snapshot],
    kinds={"python", "parquet"},
    tags={"cm/pii": "phone"},
)
def dncr_registry_changes(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Additions and removals of each candidate against the version active when it was built
    (for wash-only registries: numbers newly registered / no longer registered). The sets go to
    Parquet; the warehouse keeps the counts."""
    warehouse.assert_schema_current()
    now = datetime.now(UTC)
    summary: dict[str, dict[str, Any]] = {}
    with warehouse.connect() as connection:
        candidates = [
            row
            for row in run_candidates(connection, context.run.run_id)
            if row["status"] == STATUS_CANDIDATE
        ]
    for row in candidates:
        registry_id = str(row["registry_id"])
        current = _registered_set(read_version(object_store, row))
        previous = empty_numbers()
        if row["previous_version_id"]:
            with warehouse.connect() as connection:
                previous_rows = [
                    item
                    for item in version_rows(connection, registry_id)
                    if item["version_id"] == row["previous_version_id"]
                ]
            if previous_rows:
                previous = _registered_set(read_version(object_store, previous_rows[0]))
        added, removed = diff_sorted(previous, current)
        data = changes_to_parquet(added, removed)
        path = changes_path(registry_id, str(row["version_id"]))
        object_store.write_bytes(path, data)
        with warehouse.begin() as connection:
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
                    run_id=context.run.run_id,
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
        summary[registry_id] = {
            "version_id": row["version_id"],
            "previous_version_id": row["previous_version_id"],
            "added": int(added.size),
            "removed": int(removed.size),
        }
    return dg.MaterializeResult(
        metadata={
            "registries": dg.MetadataValue.json(summary),
            "added": sum(item["added"] for item in summary.values()),
            "removed": sum(item["removed"] for item in summary.values()),
        }
    )


@dg.asset(
    group_name=DNCR_GROUP,
    deps=[dncr_registry_snapshot, dncr_registry_changes],
    kinds={"python"},
)
def dncr_registry_promotion(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Make each candidate of this run the active version, after its blocking checks passed.

    Runs only when the checks of this run passed (they gate it), and re-checks before acting: the
    recorded check results must all have passed and the active version must still be the one
    the candidate was built against (a concurrent refresh must not be silently overwritten).
    """
    warehouse.assert_schema_current()
    now = datetime.now(UTC)
    promoted: dict[str, dict[str, Any]] = {}
    versions = tables.registry_versions
    with warehouse.begin() as connection:
        for row in run_candidates(connection, context.run.run_id):
            if row["status"] != STATUS_CANDIDATE:
                continue
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
            if current is not None:
                connection.execute(
                    sa.update(versions)
                    .where(
                        versions.c.registry_id == registry_id, versions.c.version_id == current_id
                    )
                    .values(status=STATUS_SUPERSEDED, superseded_at=now)
                )
            connection.execute(
                sa.update(versions)
                .where(
                    versions.c.registry_id == registry_id,
                    versions.c.version_id == row["version_id"],
                )
                .values(status=STATUS_ACTIVE, activated_at=now, promoted_run_id=context.run.run_id)
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
                run_id=context.run.run_id,
            )
            promoted[registry_id] = {
                "version_id": row["version_id"],
                "previous_version_id": current_id,
                "numbers": int(row["number_count"]),
            }
    return dg.MaterializeResult(
        metadata={"promoted": dg.MetadataValue.json(promoted), "promoted_count": len(promoted)}
    )


# --------------------------------------------------------------------------- consents


def _parse_instant(value: Any) -> datetime | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not an ISO 8601 date-time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _consent_key(number_hash: str, kind: str, recorded_at: datetime | None) -> tuple[str, str, str]:
    stamp = as_utc(recorded_at)
    return number_hash, kind, stamp.isoformat() if stamp else ""


@dg.asset(group_name=DNCR_GROUP, kinds={"python", "csv"}, tags={"cm/pii": "phone"})
def dncr_consents(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Consent and business-relationship records (landing ``consents.csv`` per tenant: phone,
    kind, recorded_at, source, optional expires_at / revoked_at) with the number normalised and
    its keyed hash. Records already held are left as they are, so a re-ingested file never undoes
    a DSAR restriction or erasure; bad rows are quarantined."""
    warehouse.assert_schema_current()
    key = settings.identifier_hash_key()
    inserted_by_tenant: dict[str, int] = {}
    quarantined_by_tenant: dict[str, int] = {}
    consents = tables.consents
    for tenant in platform_config.tenants():
        path = landing.consents_file(tenant.id)
        if not object_store.exists(path):
            continue
        entries: list[QuarantineEntry] = []
        try:
            frame = pd.read_csv(
                io.BytesIO(object_store.read_bytes(path)),
                dtype=str,
                engine="pyarrow",
                keep_default_na=False,
            )
        except ValueError:
            entries.append(
                QuarantineEntry(path, None, "unreadable_csv", "not a readable CSV", None, tenant.id)
            )
            frame = pd.DataFrame(columns=["phone", "kind", "recorded_at", "source"])
        frame.columns = [str(column).strip().lower() for column in frame.columns]
        missing = {"phone", "kind", "recorded_at"} - set(frame.columns)
        if missing:
            entries.append(
                QuarantineEntry(
                    path, None, "missing_column", f"header lacks {sorted(missing)}", None, tenant.id
                )
            )
            frame = frame.iloc[0:0]
        numbers = prepare_numbers(
            frame["phone"].tolist() if "phone" in frame else [], tenant.country, key
        )
        with warehouse.begin() as connection:
            held = {
                _consent_key(str(row.e164_hash), str(row.kind), row.recorded_at)
                for row in connection.execute(
                    sa.select(consents.c.e164_hash, consents.c.kind, consents.c.recorded_at).where(
                        consents.c.tenant_id == tenant.id
                    )
                )
            }
            rows = []
            for index, record in enumerate(frame.to_dict(orient="records")):
                line = index + 2
                raw = ",".join(str(value) for value in record.values())
                number = numbers.iloc[index]
                kind = str(record.get("kind", "")).strip().lower()
                try:
                    recorded_at = _parse_instant(record.get("recorded_at"))
                    expires_at = _parse_instant(record.get("expires_at"))
                    revoked_at = _parse_instant(record.get("revoked_at"))
                except ValueError:
                    entries.append(
                        QuarantineEntry(
                            path,
                            line,
                            "bad_timestamp",
                            f"line {line}: a date-time field is not ISO 8601",
                            raw,
                            tenant.id,
                        )
                    )
                    continue
                problem = None
                if number["e164"] is None:
                    problem = ("invalid_number", "phone is not a valid number")
                elif kind not in CONSENT_KINDS:
                    problem = ("unknown_kind", f"kind must be one of {', '.join(CONSENT_KINDS)}")
                elif recorded_at is None:
                    problem = ("missing_recorded_at", "recorded_at is empty")
                if problem is not None:
                    entries.append(
                        QuarantineEntry(
                            path, line, problem[0], f"line {line}: {problem[1]}", raw, tenant.id
                        )
                    )
                    continue
                consent_key = _consent_key(str(number["e164_hash"]), kind, recorded_at)
                if consent_key in held:
                    continue
                held.add(consent_key)
                rows.append(
                    {
                        "tenant_id": tenant.id,
                        "e164": number["e164"],
                        "e164_hash": number["e164_hash"],
                        "kind": kind,
                        "recorded_at": recorded_at,
                        "expires_at": expires_at,
                        "source": str(record.get("source", "") or "")[:120] or None,
                        "source_file": path,
                        "source_line": line,
                        "revoked_at": revoked_at,
                        "restricted_at": None,
                    }
                )
            inserted = bulk_insert(connection, consents, pd.DataFrame(rows)) if rows else 0
            replace_quarantine(connection, "dncr_consents", tenant.id, entries, context.run.run_id)
        inserted_by_tenant[tenant.id] = inserted
        quarantined_by_tenant[tenant.id] = len(entries)
    return dg.MaterializeResult(
        metadata={
            "inserted_by_tenant": dg.MetadataValue.json(inserted_by_tenant),
            "quarantined_by_tenant": dg.MetadataValue.json(quarantined_by_tenant),
            "inserted": sum(inserted_by_tenant.values()),
            "quarantined": sum(quarantined_by_tenant.values()),
        }
    )


# --------------------------------------------------------------------------- washing


def _campaign_files(object_store: ObjectStoreResource, tenant: Tenant) -> list[tuple[str, str]]:
    """(campaign id, path) of every campaign list of a tenant."""
    found = []
    for item in object_store.list_files(campaigns_prefix(tenant.id)):
        name = posixpath.basename(item.path)
        if not name.lower().endswith(".csv"):
            continue
        found.append((name[: -len(".csv")], item.path))
    return found


@dataclass
class WashTotals:
    numbers: int = 0
    allowed: int = 0
    blocked: int = 0
    reasons: Counter = field(default_factory=Counter)
    campaigns: int = 0
    blocked_records: int = 0
    exports: list[dict[str, Any]] = field(default_factory=list)
    wash_requests: list[dict[str, Any]] = field(default_factory=list)
    restricted_skipped: int = 0
    unreadable_campaigns: int = 0


def _wash_campaign(
    connection: sa.Connection,
    *,
    tenant: Tenant,
    campaign_id: str,
    path: str,
    data: bytes,
    evidence: list,
    suppressed: set[str],
    restricted: set[str],
    consents: pd.DataFrame,
    washed_at: datetime,
    object_store: ObjectStoreResource,
    run_id: str,
    key: bytes,
    totals: WashTotals,
    requests: dict[str, set[str]],
) -> None:
    frame = read_campaign_csv(data, path)
    numbers = prepare_numbers(frame["phone"].tolist(), tenant.country, key)
    results = wash(
        numbers,
        evidence=evidence,
        suppressed_hashes=suppressed,
        consents=consents,
        washed_at=washed_at,
        tenant_country=tenant.country,
    )
    results["contact_ref"] = frame["contact_ref"].to_numpy(dtype=object)
    is_restricted = results["e164_hash"].isin(restricted).to_numpy()
    stored = results.assign(
        tenant_id=tenant.id,
        campaign_id=campaign_id,
        washed_at=washed_at,
        run_id=run_id,
        restricted_at=[washed_at if flag else None for flag in is_restricted],
        deleted_at=None,
    )
    bulk_insert(connection, tables.wash_results, stored)
    blocked = results.loc[results["decision"] == "blocked"].drop_duplicates(
        subset=["e164_hash", "reason"]
    )
    if not blocked.empty:
        blocked_rows = pd.DataFrame(
            {
                "tenant_id": tenant.id,
                "campaign_id": campaign_id,
                "e164_hash": blocked["e164_hash"],
                "reason": blocked["reason"],
                "rule": blocked["rule"],
                "registry_id": blocked["registry_id"],
                "registry_version": blocked["registry_version"],
                "evidence_date": blocked["evidence_date"],
                "decided_at": washed_at,
                "run_id": run_id,
                "deleted_at": None,
            }
        )
        totals.blocked_records += bulk_insert(connection, tables.blocked_calls, blocked_rows)
    allowed = results.loc[(results["decision"] == "allowed") & ~is_restricted].drop_duplicates(
        subset=["e164"]
    )
    export = allowed_export_csv(allowed)
    export_path = allowed_export_path(tenant.id, campaign_id, file_stamp(washed_at))
    object_store.write_bytes(export_path, export)
    export_sha = sha256_hex(export)
    needing = results.loc[results["needs_wash_registry"].notna() & ~is_restricted]
    for registry_id, group in needing.groupby("needs_wash_registry"):
        requests.setdefault(str(registry_id), set()).update(str(n) for n in group["e164"])
    reasons = Counter(results["reason"])
    restricted_skipped = int(
        np.count_nonzero(is_restricted & (results["decision"] == "allowed").to_numpy())
    )
    versions = {item.registry.id: item.version_id for item in evidence}
    connection.execute(
        sa.insert(tables.campaign_washes).values(
            tenant_id=tenant.id,
            campaign_id=campaign_id,
            source_file=path,
            source_sha256=sha256_hex(data),
            washed_at=washed_at,
            numbers=len(results),
            allowed=int((results["decision"] == "allowed").sum()),
            blocked=int((results["decision"] == "blocked").sum()),
            restricted_skipped=restricted_skipped,
            reasons=dict(sorted(reasons.items())),
            registry_versions=versions,
            allowed_export_path=export_path,
            allowed_export_sha256=export_sha,
            run_id=run_id,
        )
    )
    append_audit(
        connection,
        actor=ACTOR,
        action="dncr.allowed_list_exported",
        tenant_id=tenant.id,
        object_refs={
            "campaign_id": campaign_id,
            "export_path": export_path,
            "export_sha256": export_sha,
            "registry_versions": versions,
        },
        details={
            "numbers": len(results),
            "allowed_exported": len(allowed),
            "blocked": int((results["decision"] == "blocked").sum()),
            "restricted_skipped": restricted_skipped,
            "reasons": dict(sorted(reasons.items())),
        },
        run_id=run_id,
    )
    totals.numbers += len(results)
    totals.allowed += int((results["decision"] == "allowed").sum())
    totals.blocked += int((results["decision"] == "blocked").sum())
    totals.reasons.update(reasons)
    totals.campaigns += 1
    totals.restricted_skipped += restricted_skipped
    totals.exports.append(
        {
            "tenant_id": tenant.id,
            "campaign_id": campaign_id,
            "path": export_path,
            "allowed": len(allowed),
        }
    )


@dg.multi_asset(
    group_name=DNCR_GROUP,
    specs=[
        dg.AssetSpec(
            "dncr_wash_results",
            deps=["dncr_consents", "dncr_registry_promotion"],
            kinds={"python"},
            tags={"cm/pii": "phone"},
            description="A decision, one reason, its evidence and valid_until for every number of every campaign list.",
        ),
        dg.AssetSpec(
            "dncr_blocked_calls",
            deps=["dncr_consents", "dncr_registry_promotion"],
            kinds={"python"},
            description="Blocked decisions naming registry, version, evidence date and rule; number hashed.",
        ),
        dg.AssetSpec(
            "dncr_allowed_exports",
            deps=["dncr_consents", "dncr_registry_promotion"],
            kinds={"csv"},
            tags={"cm/pii": "phone"},
            description="Allowed numbers per campaign with calling windows, minus DSAR-restricted numbers.",
        ),
        dg.AssetSpec(
            "dncr_wash_requests",
            deps=["dncr_consents", "dncr_registry_promotion"],
            kinds={"csv"},
            tags={"cm/pii": "phone"},
            description="Numbers to submit to wash-only registries (no fresh result).",
        ),
    ],
)
def dncr_wash(
    context: dg.AssetExecutionContext,
    config: WashConfig,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
):
    """Wash every campaign list of each selected tenant against the active registry versions,
    the tenant's suppression list and consents."""
    warehouse.assert_schema_current()
    washed_at = _instant(config.washed_at, "washed_at")
    key = settings.identifier_hash_key()
    registries = {registry.id: registry for registry in platform_config.registries()}
    tenants = platform_config.tenants_by_id()
    unknown = sorted(set(config.tenant_ids) - set(tenants))
    if unknown:
        raise dg.Failure(
            description=f"unknown tenant id(s) {unknown}: configured are {sorted(tenants)}"
        )
    selected = [tenants[t] for t in (config.tenant_ids or sorted(tenants))]
    totals = WashTotals()
    cache: dict = {}
    quarantine: dict[str, list[QuarantineEntry]] = {}
    for tenant in selected:
        campaigns = _campaign_files(object_store, tenant)
        if not campaigns:
            continue
        tenant_registries = [registries[r] for r in tenant.registries]
        requests: dict[str, set[str]] = {}
        with warehouse.connect() as connection:
            evidence = load_evidence(connection, object_store, tenant_registries, cache)
            suppressed = suppressed_hashes(connection, tenant.id)
            restricted = restricted_hashes(connection, tenant.id)
            consents = tenant_consents(connection, tenant.id)
        entries = quarantine.setdefault(tenant.id, [])
        for campaign_id, path in campaigns:
            if not set(campaign_id) <= _CAMPAIGN_ID_CHARS or not 1 <= len(campaign_id) <= 64:
                entries.append(
                    QuarantineEntry(
                        path,
                        None,
                        "bad_campaign_id",
                        "file name must be a campaign id of 1-64 letters, digits, '-', '_' or '.'",
                        None,
                        tenant.id,
                    )
                )
                totals.unreadable_campaigns += 1
                continue
            data = object_store.read_bytes(path)
            try:
                with warehouse.begin() as connection:
                    _wash_campaign(
                        connection,
                        tenant=tenant,
                        campaign_id=campaign_id,
                        path=path,
                        data=data,
                        evidence=evidence,
                        suppressed=suppressed,
                        restricted=restricted,
                        consents=consents,
                        washed_at=washed_at,
                        object_store=object_store,
                        run_id=context.run.run_id,
                        key=key,
                        totals=totals,
                        requests=requests,
                    )
            except CampaignFileError as exc:
                entries.append(
                    QuarantineEntry(
                        path, None, "unreadable_campaign", str(exc)[:500], None, tenant.id
                    )
                )
                totals.unreadable_campaigns += 1
        stamp = file_stamp(washed_at)
        with warehouse.begin() as connection:
            for registry_id, numbers in sorted(requests.items()):
                if not numbers:
                    continue
                request_path = wash_request_path(registry_id, tenant.id, stamp)
                body = wash_request_csv(sorted(numbers))
                object_store.write_bytes(request_path, body)
                append_audit(
                    connection,
                    actor=ACTOR,
                    action="dncr.wash_request_exported",
                    tenant_id=tenant.id,
                    object_refs={
                        "registry_id": registry_id,
                        "path": request_path,
                        "sha256": sha256_hex(body),
                    },
                    details={"numbers": len(numbers)},
                    run_id=context.run.run_id,
                )
                totals.wash_requests.append(
                    {
                        "tenant_id": tenant.id,
                        "registry_id": registry_id,
                        "path": request_path,
                        "numbers": len(numbers),
                    }
                )
            replace_quarantine(connection, "dncr_wash", tenant.id, entries, context.run.run_id)
    reasons = dict(sorted(totals.reasons.items()))
    yield dg.MaterializeResult(
        asset_key="dncr_wash_results",
        metadata={
            "campaigns": totals.campaigns,
            "numbers": totals.numbers,
            "allowed": totals.allowed,
            "blocked": totals.blocked,
            "reasons": dg.MetadataValue.json(reasons),
            "unreadable_campaigns": totals.unreadable_campaigns,
            "washed_at": washed_at.isoformat(),
        },
    )
    yield dg.MaterializeResult(
        asset_key="dncr_blocked_calls",
        metadata={
            "blocked_records": totals.blocked_records,
            "reasons": dg.MetadataValue.json(
                {
                    k: v
                    for k, v in reasons.items()
                    if k
                    in (
                        "invalid_number",
                        "internal_suppression",
                        "registry_listed",
                        "registry_stale",
                        "needs_wash",
                    )
                }
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key="dncr_allowed_exports",
        metadata={
            "exports": dg.MetadataValue.json(totals.exports),
            "restricted_skipped": totals.restricted_skipped,
        },
    )
    yield dg.MaterializeResult(
        asset_key="dncr_wash_requests",
        metadata={
            "requests": dg.MetadataValue.json(totals.wash_requests),
            "numbers": sum(item["numbers"] for item in totals.wash_requests),
        },
    )
