"""Registry files parsed one at a time, each into a *part*: one landed registry file (an
area-code zip of a full download or of a change list) parsed on its own, so the parsing of a
US-scale download can be shared by workers.

A part is a Parquet file in the object store under the registry's prefix, content-addressed by
the source file's sha256 and everything else the parse depends on (path, role, format, calling
code). It holds the parse exactly as the one-step build would see it: ordered *segments* (sorted
unique int64 numbers with their line counts and kept bad lines) plus the file's own record and an
unreadable-file reason. Replaying parts in file order therefore yields the same candidate, the
same quarantine and the same version id as parsing every file in one step.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cm_pipelines.dncr.refresh.registry_sources import RegistrySource, SourceFile
from cm_pipelines.domain.dncr.change_lists import change_list_action
from cm_pipelines.domain.dncr.content_hashing import sha256_hex
from cm_pipelines.domain.dncr.e164_csv import parse_e164_csv
from cm_pipelines.domain.dncr.ftc_files import parse_ftc_lines
from cm_pipelines.domain.dncr.parsed_numbers import BadLine, ParsedNumbers, UnreadableFileError
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.dncr.zip_payloads import file_payloads
from cm_pipelines.platform import landing

PART_FORMAT = "cm-registry-part/1"
_METADATA_KEY = b"cm_registry_part"

# segment actions: numbers of a full download, change-list additions or deletions, or a change
# member whose name says neither (quarantined as unreadable for non-FTC formats)
FULL = "full"
ADDITIONS = "additions"
DELETIONS = "deletions"
UNKNOWN_ACTION = "unknown_change_action"


@dataclass
class PartSegment:
    """One parse result of a file; ``absorb`` says whether its counts reach the candidate."""

    action: str
    parsed: ParsedNumbers | None
    absorb: bool = True


@dataclass
class RegistryPart:
    """One landed file parsed: its source record, unreadable reason (if any) and segments."""

    source_file: dict[str, Any]
    segments: list[PartSegment] = field(default_factory=list)
    unreadable: tuple[str, str] | None = None

    @property
    def number_count(self) -> int:
        return sum(int(seg.parsed.numbers.size) for seg in self.segments if seg.parsed)


def part_path(registry: Registry, item: SourceFile, source_sha256: str) -> str:
    """Content address of a file's part: same bytes, path and parser settings, same part."""
    key = "|".join(
        [
            PART_FORMAT,
            registry.id,
            registry.file_format,
            str(registry.calling_code),
            item.role,
            item.path,
            source_sha256,
        ]
    )
    return f"{landing.REGISTRY}/{registry.id}/parts/{sha256_hex(key.encode())}.parquet"


def parse_numbers(registry: Registry, source: str, payload: bytes) -> ParsedNumbers:
    """Numbers of one payload in the registry's file format."""
    if registry.file_format == "e164_csv":
        return parse_e164_csv(payload, calling_code=registry.calling_code, source=source)
    parsed, _ = parse_ftc_lines(payload, calling_code=registry.calling_code, source=source)
    return parsed


def parse_source_file(registry: Registry, item: SourceFile, data: bytes) -> RegistryPart:
    """Parse one landed full-download or change-list file into a part (no I/O)."""
    record: dict[str, Any] = {"path": item.path, "role": item.role, "day": item.day}
    record.update(bytes=len(data), sha256=sha256_hex(data))
    part = RegistryPart(record)
    try:
        payloads = file_payloads(item.name, data)
    except UnreadableFileError as exc:
        record["unreadable"] = exc.reason_code
        part.unreadable = (exc.reason_code, exc.detail)
        return part
    for member, payload in payloads:
        if item.role != "changes":
            part.segments.append(PartSegment(FULL, parse_numbers(registry, item.path, payload)))
            continue
        action = change_list_action(item.name) or change_list_action(member)
        if action is not None:
            part.segments.append(PartSegment(action, parse_numbers(registry, item.path, payload)))
            continue
        if registry.file_format != "ftc_flat_zip":
            part.segments.append(PartSegment(UNKNOWN_ACTION, None))
            continue
        added, deleted = parse_ftc_lines(
            payload, calling_code=registry.calling_code, source=item.path, with_actions=True
        )
        assert deleted is not None
        part.segments.append(PartSegment(ADDITIONS, added))
        part.segments.append(PartSegment(DELETIONS, deleted, absorb=False))
    return part


def write_part(source: RegistrySource, item: SourceFile) -> tuple[str, bool]:
    """Parse one landed file into its part in the object store; an existing part (same bytes,
    path and parser settings) is reused. Returns the part's path and whether it was reused."""
    data = source.read(item)
    location = part_path(source.registry, item, sha256_hex(data))
    reused = source.object_store.exists(location)
    if not reused:
        part = parse_source_file(source.registry, item, data)
        source.object_store.write_bytes(location, part_to_parquet(part))
    return location, reused


def _segment_meta(segment: PartSegment) -> dict[str, Any]:
    meta: dict[str, Any] = {"action": segment.action, "absorb": segment.absorb}
    parsed = segment.parsed
    if parsed is not None:
        meta.update(
            count=int(parsed.numbers.size),
            lines_read=parsed.lines_read,
            bad_line_count=parsed.bad_line_count,
            duplicate_count=parsed.duplicate_count,
            blank_lines=parsed.blank_lines,
            bad_lines=[
                [source, line.line_number, line.reason_code, line.raw]
                for source, line in parsed.bad_lines
            ],
        )
    return meta


def part_to_parquet(part: RegistryPart) -> bytes:
    """Column ``e164`` (int64, each segment sorted), column ``segment``; the rest as metadata."""
    arrays = [seg.parsed.numbers for seg in part.segments if seg.parsed is not None]
    numbers = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)
    segment_ids = np.concatenate(
        [
            np.full(seg.parsed.numbers.size, index, dtype=np.int32)
            for index, seg in enumerate(part.segments)
            if seg.parsed is not None
        ]
        or [np.empty(0, dtype=np.int32)]
    )
    metadata = {
        "format": PART_FORMAT,
        "source_file": part.source_file,
        "unreadable": list(part.unreadable) if part.unreadable else None,
        "segments": [_segment_meta(seg) for seg in part.segments],
    }
    table = pa.table(
        {
            "segment": pa.array(segment_ids, type=pa.int32()),
            "e164": pa.array(numbers.astype(np.int64, copy=False), type=pa.int64()),
        }
    ).replace_schema_metadata({_METADATA_KEY: json.dumps(metadata).encode()})
    buffer = io.BytesIO()
    pq.write_table(
        table,
        buffer,
        compression={"segment": "zstd", "e164": "none"},
        use_dictionary=False,
        column_encoding={"e164": "DELTA_BINARY_PACKED"},
    )
    return buffer.getvalue()


def part_from_parquet(data: bytes) -> RegistryPart:
    """The part written by ``part_to_parquet``; a part of another format is refused."""
    table = pq.read_table(io.BytesIO(data))
    raw = (table.schema.metadata or {}).get(_METADATA_KEY)
    if raw is None:
        raise ValueError("registry part has no part metadata")
    metadata = json.loads(raw)
    if metadata.get("format") != PART_FORMAT:
        raise ValueError(f"registry part format {metadata.get('format')!r} is not {PART_FORMAT}")
    numbers = table.column("e164").to_numpy().astype(np.int64, copy=False)
    offset = 0
    segments: list[PartSegment] = []
    for meta in metadata["segments"]:
        if "count" not in meta:
            segments.append(PartSegment(meta["action"], None, bool(meta["absorb"])))
            continue
        count = int(meta["count"])
        parsed = ParsedNumbers(
            numbers=numbers[offset : offset + count].copy(),
            lines_read=int(meta["lines_read"]),
            bad_line_count=int(meta["bad_line_count"]),
            bad_lines=[
                (str(source), BadLine(int(number), str(reason), str(raw_line)))
                for source, number, reason, raw_line in meta["bad_lines"]
            ],
            duplicate_count=int(meta["duplicate_count"]),
            blank_lines=int(meta["blank_lines"]),
        )
        offset += count
        segments.append(PartSegment(meta["action"], parsed, bool(meta["absorb"])))
    if offset != numbers.size:
        raise ValueError(f"registry part holds {numbers.size} numbers, its segments {offset}")
    unreadable = metadata.get("unreadable")
    return RegistryPart(
        dict(metadata["source_file"]),
        segments,
        (str(unreadable[0]), str(unreadable[1])) if unreadable else None,
    )
