"""``cm demo``: a small generated world pushed through every job, recorded in the project's instance.

Each capability contributes a step to ``DEMO_STEPS``; a step runs jobs through the instance (so
the runs show in the UI) and returns one summary line. Summary lines carry counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg

DEMO_DAYS = 3


@dataclass
class DemoContext:
    instance: dg.DagsterInstance
    world: Any
    days: list[str]
    notes: dict[str, Any] = field(default_factory=dict)


class DemoStepFailed(RuntimeError):
    """A job of the demo failed; the run id points at its logs in the UI."""


def run_and_require(context: DemoContext, job_name: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
    from cm_pipelines.instance import run_job

    result = run_job(job_name, instance=context.instance, **kwargs)
    if not result.success:
        raise DemoStepFailed(f"{job_name} failed (run {result.run_id}); open it in the UI for details")
    return result


def ingest_calls(context: DemoContext) -> str:
    total = 0
    for day in context.days:
        result = run_and_require(context, "call_ingestion_job", partition_key=day)
        for event in result.get_asset_materialization_events():
            materialization = event.materialization
            if materialization and materialization.asset_key.path == ["call_records"]:
                total += int(materialization.metadata["rows_inserted"].value)  # type: ignore[arg-type]
    return f"ingestion: {total} call records over {len(context.days)} call days"


DEMO_STEPS: list[tuple[str, Callable[[DemoContext], str]]] = [
    ("ingest call days", ingest_calls),
]


def run_demo(*, seed: int, calls: int, echo: Callable[[str], None]) -> list[str]:
    from cm_pipelines.commands.core import generate, initialise
    from cm_pipelines.instance import get_instance

    echo("initialising warehouse, object store and Dagster home ...")
    initialise()
    start_day = date.today() - timedelta(days=DEMO_DAYS)
    echo(f"generating a world of {calls} calls (seed {seed}) ...")
    world = generate(seed, calls, None, True, DEMO_DAYS, start_day)
    days = [(start_day + timedelta(days=offset)).isoformat() for offset in range(DEMO_DAYS)]
    context = DemoContext(instance=get_instance(), world=world, days=days)
    lines = []
    for label, step in DEMO_STEPS:
        echo(f"running: {label} ...")
        lines.append(step(context))
    return lines
