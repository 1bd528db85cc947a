"""Registry parsing split by area-code file: one parse step and one content-addressed part per
landed file, and a merged candidate identical to parsing the whole download in one step."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from cm_pipelines.dncr.refresh.candidate_builds import build_downloadable
from cm_pipelines.dncr.refresh.candidates import Candidate, record_candidate
from cm_pipelines.dncr.refresh.parsed_files import (
    parse_source_file,
    part_from_parquet,
    part_path,
    part_to_parquet,
)
from cm_pipelines.dncr.refresh.registry_sources import RegistrySource, SourceFile
from cm_pipelines.dncr.run_config import PARSE_AREA_CODE_FILE_OP, SNAPSHOT_OP
from cm_pipelines.domain.dncr.content_hashing import content_hash, sha256_hex
from cm_pipelines.domain.dncr.ftc_files import format_ftc_lines, parse_ftc_lines
from cm_pipelines.domain.dncr.parsed_numbers import combine
from cm_pipelines.domain.dncr.zip_payloads import file_payloads
from cm_pipelines.platform import landing
from cm_pipelines.resources import ObjectStoreResource
from cm_pipelines.tables.calls import quarantine
from tests.dncr.dncr_helpers import (
    active_rows,
    failure_message,
    refresh,
    registries_config,
    us_numbers,
    write_changes,
    zip_member,
)

DAY1, DAY1_AS_OF = "2026-11-01", "2026-11-02T12:00:00+00:00"
DAY2, DAY2_AS_OF = "2026-11-03", "2026-11-04T12:00:00+00:00"
AREAS = (212, 415, 646, 718)
NUMBERS = us_numbers(2000, area_codes=AREAS)


@pytest.fixture
def resources(sqlite_warehouse, local_store, tmp_path: Path) -> dict[str, Any]:
    return {
        "warehouse": sqlite_warehouse,
        "object_store": local_store,
        "platform_config": registries_config(tmp_path, us_ftc={"max_bad_line_ratio": 0.01}),
    }


def write_download(store: ObjectStoreResource) -> list[str]:
    """One zip per area code; area 212 also carries a duplicate line and a malformed line."""
    paths = []
    areas = (NUMBERS - 10_000_000_000) // 10_000_000
    for area in AREAS:
        lines = format_ftc_lines(NUMBERS[areas == area])
        if area == 212:
            lines += lines.splitlines(keepends=True)[0] + b"212,55X0000\n"
        path = f"{landing.registry_full_dir('us_ftc', DAY1)}/{area}.zip"
        store.write_bytes(path, zip_member(f"{area}.txt", lines))
        paths.append(path)
    return paths


def parse_steps(result: Any) -> list[str]:
    prefix = f"{SNAPSHOT_OP}.{PARSE_AREA_CODE_FILE_OP}["
    return sorted(
        event.step_key
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS" and event.step_key.startswith(prefix)
    )


def one_step(resources: dict[str, Any], active: dict[str, Any] | None, as_of: str) -> Candidate:
    """The candidate parsed in one step (no parts), as before the split."""
    [registry] = [r for r in resources["platform_config"].registries() if r.id == "us_ftc"]
    store = resources["object_store"]
    now = datetime.fromisoformat(as_of)
    candidate, note = build_downloadable(
        registry, RegistrySource(registry, store), active, store, "", now
    )
    assert candidate is not None, note
    return candidate


def quarantined(resources: dict[str, Any]) -> list[tuple[Any, ...]]:
    with resources["warehouse"].connect() as connection:
        rows = connection.execute(
            sa.select(quarantine.c.source_file, quarantine.c.source_line, quarantine.c.reason_code)
            .where(quarantine.c.asset == SNAPSHOT_OP)
            .order_by(quarantine.c.source_file, quarantine.c.source_line)
        )
        return [tuple(row) for row in rows]


def assert_same_version(
    resources: dict[str, Any], expected: Candidate, active: dict[str, Any], previous: Any
) -> None:
    """The promoted (split) version equals the one-step candidate, field by field and by id."""
    assert active["number_count"] == expected.numbers.size
    assert active["numbers_sha256"] == content_hash(expected.numbers)
    assert active["source_files"] == expected.source_files
    for column in ("lines_read", "bad_lines", "blank_lines", "duplicate_lines"):
        assert active[column] == getattr(expected, column), column
    assert active["unreadable_files"] == expected.unreadable_files
    assert active["change_additions"] == expected.change_additions
    assert active["change_deletions"] == expected.change_deletions
    with resources["warehouse"].begin() as connection:
        row = record_candidate(
            connection, expected, previous, resources["object_store"], "one-step", datetime.now()
        )
    assert row == {"version_id": active["version_id"], "status": "identical to active version"}


def test_split_parse_writes_one_part_per_area_code_file_and_equals_one_step(resources) -> None:
    store: ObjectStoreResource = resources["object_store"]
    landed = write_download(store)
    expected = one_step(resources, None, DAY1_AS_OF)
    assert expected.bad_lines == 1 and expected.duplicate_lines == 1

    result = refresh(resources, ["us_ftc"], as_of=DAY1_AS_OF)
    assert result.success, failure_message(result)
    assert len(parse_steps(result)) == len(AREAS)

    parts = store.list_files(f"{landing.REGISTRY}/us_ftc/parts")
    assert len(parts) == len(AREAS)
    by_source = {}
    for info in parts:
        part = part_from_parquet(store.read_bytes(info.path))
        by_source[part.source_file["path"]] = (info.path, part)
    assert sorted(by_source) == sorted(landed)
    [registry] = [r for r in resources["platform_config"].registries() if r.id == "us_ftc"]
    reference = []
    for path in landed:
        data = store.read_bytes(path)
        location, part = by_source[path]
        item = SourceFile(path, "full", DAY1, len(data))
        assert location == part_path(registry, item, sha256_hex(data))
        [segment] = part.segments
        assert segment.parsed is not None
        assert np.all(np.diff(segment.parsed.numbers) > 0)
        [(_, payload)] = file_payloads(item.name, data)
        parsed, _ = parse_ftc_lines(payload, calling_code=1, source=path)
        assert np.array_equal(segment.parsed.numbers, parsed.numbers)
        assert segment.parsed.bad_lines == parsed.bad_lines
        reference.append(parsed)
    # the old one-step algorithm: every area-code file parsed and combined at once
    merged = combine(reference)
    [active] = active_rows(resources["warehouse"], "us_ftc")
    assert np.array_equal(merged.numbers, expected.numbers)
    assert np.array_equal(merged.numbers, NUMBERS)
    assert_same_version(resources, expected, active, None)
    assert quarantined(resources) == [(landed[0], 2 + 2000 // len(AREAS), "non_digit")]

    # a change list split the same way: one part per area-code additions / deletions file
    added = us_numbers(40, start=5000, area_codes=AREAS)
    write_changes(store, "us_ftc", DAY2, added, NUMBERS[::50])
    expected = one_step(resources, active, DAY2_AS_OF)
    result = refresh(resources, ["us_ftc"], as_of=DAY2_AS_OF)
    assert result.success, failure_message(result)
    assert len(parse_steps(result)) == 2 * len(AREAS)
    assert len(store.list_files(f"{landing.REGISTRY}/us_ftc/parts")) == 3 * len(AREAS)
    [promoted] = active_rows(resources["warehouse"], "us_ftc")
    assert promoted["source_kind"] == "changes"
    assert promoted["change_additions"] == 40 and promoted["change_deletions"] == 40
    assert_same_version(resources, expected, promoted, active)


def test_a_part_round_trips_an_unreadable_file_and_named_change_actions(resources) -> None:
    [registry] = [r for r in resources["platform_config"].registries() if r.id == "us_ftc"]
    truncated = zip_member("212.txt", format_ftc_lines(NUMBERS[:10]))[:-20]
    item = SourceFile("registry/us_ftc/full/2026-11-01/212.zip", "full", DAY1, len(truncated))
    part = parse_source_file(registry, item, truncated)
    assert part.unreadable is not None and part.unreadable[0] == "unreadable_archive"
    assert part.source_file["unreadable"] == "unreadable_archive"
    again = part_from_parquet(part_to_parquet(part))
    assert again.unreadable == part.unreadable and again.segments == []
    assert again.source_file == part.source_file
    assert again.source_file["sha256"] == sha256_hex(truncated)

    deletions = zip_member("415_deletions.txt", format_ftc_lines(NUMBERS[1::2][:7]))
    item = SourceFile(
        "registry/us_ftc/changes/2026-11-03/415_deletions.zip", "changes", DAY2, len(deletions)
    )
    again = part_from_parquet(part_to_parquet(parse_source_file(registry, item, deletions)))
    [segment] = again.segments
    assert segment.action == "deletions" and segment.absorb
    assert segment.parsed is not None and segment.parsed.numbers.size == 7
    plain = io.BytesIO()
    pq.write_table(pa.table({"e164": pa.array([1], type=pa.int64())}), plain)
    with pytest.raises(ValueError, match="part metadata"):
        part_from_parquet(plain.getvalue())
