"""Erasure of landing files: the subject's CDR and CRM lines are blanked in place.

Landing files still hold the subject's calls after their warehouse rows are erased. Blanking a
line (not removing it) keeps the line numbers of other records valid, and both readers skip
empty lines; blanking an already blank line changes nothing, so a re-run is harmless.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable

from cm_pipelines.domain.dsar.planning import PlannedAction
from cm_pipelines.dsar.fulfil import plan_items
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.object_versions import drop_noncurrent_versions


def blank_source_lines(
    fulfilment: FulfilmentContext, kind: str, actions: list[PlannedAction]
) -> dict[str, int]:
    """Landing files still hold the subject's calls: their lines are blanked in place (line
    numbers of other records stay valid; both readers skip empty lines)."""
    by_file: dict[str, list[int]] = defaultdict(list)
    for action in actions:
        path, _, line = action.ref.rpartition("#")
        by_file[path].append(int(line))
    blanked = missing = 0
    object_store = fulfilment.object_store
    for path, lines in sorted(by_file.items()):
        if not object_store.exists(path):
            missing += 1
            continue
        data = object_store.read_bytes(path)
        new_data, count = blank_lines(data, lines, multiline_csv=kind == "crm")
        if new_data != data:
            object_store.write_bytes(path, new_data)
        drop_noncurrent_versions(object_store, path)
        blanked += count
    with fulfilment.warehouse.begin() as connection:
        plan_items.mark_executed(fulfilment, connection, actions)
    return {"lines_blanked": blanked, "files": len(by_file), "files_missing": missing}


def blank_lines(
    data: bytes, line_numbers: Iterable[int], *, multiline_csv: bool
) -> tuple[bytes, int]:
    """Empty the given 1-based physical lines, keeping line ends so other numbers stay valid.

    With ``multiline_csv`` a record that starts on a given line is blanked through its last
    physical line (a quoted field may span lines in CRM CSVs; cdr_csv records never do).
    """
    lines = data.splitlines(keepends=True)
    targets: set[int] = set()
    wanted = sorted(set(line_numbers))
    if multiline_csv and wanted:
        text_lines = [line.decode("utf-8", errors="replace") for line in lines]
        reader = csv.reader(io.StringIO("".join(text_lines), newline=""))
        starts = set(wanted)
        while True:
            first = reader.line_num + 1
            try:
                next(reader)
            except StopIteration:
                break
            except csv.Error:
                continue
            if first in starts:
                targets.update(range(first, reader.line_num + 1))
    else:
        targets.update(wanted)
    blanked = 0
    for number in sorted(targets):
        if 1 <= number <= len(lines):
            line = lines[number - 1]
            body = line.rstrip(b"\r\n")
            if body:
                lines[number - 1] = line[len(body) :]
                blanked += 1
    return b"".join(lines), blanked


def unblanked_lines(
    fulfilment: FulfilmentContext, actions: Iterable[PlannedAction]
) -> list[PlannedAction]:
    """Planned line blankings whose line still has content (files gone count as blank)."""
    by_file: dict[str, list[PlannedAction]] = defaultdict(list)
    for action in actions:
        by_file[action.ref.rpartition("#")[0]].append(action)
    left: list[PlannedAction] = []
    for path, line_actions in by_file.items():
        if not fulfilment.object_store.exists(path):
            continue
        physical = fulfilment.object_store.read_bytes(path).splitlines()
        for action in line_actions:
            number = int(action.ref.rpartition("#")[2])
            if number <= len(physical) and physical[number - 1].strip():
                left.append(action)
    return left
