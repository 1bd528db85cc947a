"""Whether the process running a run is still alive, so a claim of a killed run is taken over
at once instead of after its TTL.

A run SIGKILLed (or whose machine lost power) never records its end: Dagster still shows it
started. A run executed in the process that starts it (``cm retention purge``, ``cm dsar run``,
``cm approve``, the demo: ``platform.instance.run_job``) is tagged with where it runs
(``cm/host``, ``cm/pid`` and the process's start time, so a reused pid is not mistaken for
it). A later run on the same host asks the operating system: no such process means the run is
dead. Runs launched elsewhere (the daemon, workers, pods) carry no such tags: Dagster's run
monitoring (every ``deploy/dagster.*.yaml``) marks those failed where the run launcher can
check its workers, else the claim lapses after its TTL.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import dagster as dg

HOST_TAG = "cm/host"
PID_TAG = "cm/pid"
STARTED_TAG = "cm/pid_started"


def _process_started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19] if len(fields) > 19 else None


def process_tags() -> dict[str, str]:
    """Where this process runs: host, pid and (Linux) when the pid was started."""
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    started = _process_started(os.getpid())
    if started is not None:
        tags[STARTED_TAG] = started
    return tags


def process_gone(tags: Mapping[str, str]) -> bool:
    """True only when the tagged process is known dead: same host, and no process with that
    pid, or one started at another time (the pid was reused)."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return False
    pid = int(tags[PID_TAG])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by someone else
    recorded = tags.get(STARTED_TAG)
    return recorded is not None and _process_started(pid) not in (None, recorded)


def run_is_dead(run: dg.DagsterRun | None) -> bool:
    """A run that ended, or whose process is known dead: its claims need not be waited out."""
    return run is not None and (run.is_finished or process_gone(run.tags))
