"""When the values runs handed between their steps may go.

With ``CM_IO_STORAGE=object_store`` every run leaves its step outputs under
``_dagster/io/runs/<run id>``. They are needed while the run is in flight and for a while after
it, when an operator may re-execute a failed run from the failed step (which loads the outputs of
the steps before it); after that they are clutter. A run the instance no longer knows (deleted
from the UI) can never be re-executed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RunEnding:
    """What the instance says of a run: whether it finished, and when."""

    finished: bool
    ended_at: datetime | None


def runs_to_forget(
    run_ids: Iterable[str], endings: Mapping[str, RunEnding | None], cutoff: datetime
) -> list[str]:
    """Runs whose step outputs may be deleted: finished before ``cutoff``, or unknown to the
    instance (``None``). A run in flight, or finished without an end time, keeps its outputs."""
    forgotten = []
    for run_id in sorted(set(run_ids)):
        ending = endings.get(run_id)
        if ending is None:
            forgotten.append(run_id)
        elif ending.finished and ending.ended_at is not None and ending.ended_at < cutoff:
            forgotten.append(run_id)
    return forgotten
