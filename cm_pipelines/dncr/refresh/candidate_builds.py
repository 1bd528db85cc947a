"""Building the next version of a registry in memory: a downloadable registry's full download
and change lists applied in day order (from the parts the parse steps wrote, or parsed here),
or a wash-only registry's new result files merged into its active results."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import numpy as np

from cm_pipelines.dncr.refresh.candidates import Candidate
from cm_pipelines.dncr.refresh.download_plans import plan_downloadable
from cm_pipelines.dncr.refresh.parsed_files import (
    ADDITIONS,
    PartSegment,
    RegistryPart,
    parse_source_file,
    part_from_parquet,
)
from cm_pipelines.dncr.refresh.registry_sources import RegistrySource, SourceFile
from cm_pipelines.dncr.refresh.registry_versions import read_version
from cm_pipelines.domain.dncr.change_lists import apply_changes
from cm_pipelines.domain.dncr.content_hashing import sha256_hex
from cm_pipelines.domain.dncr.evidence import local_day
from cm_pipelines.domain.dncr.number_sets import empty_numbers
from cm_pipelines.domain.dncr.parsed_numbers import ParsedNumbers, UnreadableFileError, combine
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.dncr.wash_results import (
    WashResultSet,
    merge_wash_results,
    parse_wash_results,
)
from cm_pipelines.domain.dncr.zip_payloads import file_payloads
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry


def build_downloadable(
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
    plan, note = plan_downloadable(registry, source, active, source_day, now)
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


def build_wash_only(
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
