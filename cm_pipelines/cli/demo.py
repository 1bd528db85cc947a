"""``cm demo``: a small generated world pushed through every job, recorded in the project's
instance; the steps live in ``demo_steps``. Summary lines carry counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import click

from cm_pipelines.cli.project import generate, initialise
from cm_pipelines.domain.tenants import ConfigError
from cm_pipelines.platform.automation import automation_enabled
from cm_pipelines.platform.instance import console_log_level, get_instance

DEMO_DAYS = 3


def run_demo(*, seed: int, calls: int, echo: Callable[[str], None]) -> list[str]:
    # every capability's services, loaded when the demo runs, not at every `cm` start
    from cm_pipelines.cli.demo_steps import DEMO_STEPS, DemoContext

    echo("initialising warehouse, object store and Dagster home ...")
    initialise()
    start_day = date.today() - timedelta(days=DEMO_DAYS)
    echo(f"generating a world of {calls} calls (seed {seed}) ...")
    world = generate(seed, calls, None, True, DEMO_DAYS, start_day)
    days = [(start_day + timedelta(days=offset)).isoformat() for offset in range(DEMO_DAYS)]
    context = DemoContext(instance=get_instance(), world=world, days=days)
    lines = []
    # Some steps fail on purpose (a tripped circuit breaker); each step reports in its summary
    # line and every run is in the UI, so the terminal shows only critical run output.
    with console_log_level("CRITICAL"):
        for label, step in DEMO_STEPS:
            echo(f"running: {label} ...")
            lines.append(step(context))
    return lines


@click.command("demo")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--calls", type=click.IntRange(10, 100_000), default=400, show_default=True)
def demo_command(seed: int, calls: int) -> None:
    """Init, generate a small world and run every job once through the project's instance."""
    try:
        lines = run_demo(seed=seed, calls=calls, echo=click.echo)
    except ConfigError as exc:
        raise click.ClickException(f"configuration refused: {exc}") from exc
    click.echo("")
    click.echo("Demo summary")
    for line in lines:
        click.echo(f"  {line}")
    click.echo("")
    click.echo("Open the Dagster UI with:  cm ui   (then browse http://127.0.0.1:3000)")
    click.echo(automation_note())


def automation_note() -> str:
    """What ``cm ui``'s daemon will start by itself, and the switch that stops it."""
    if automation_enabled():
        return (
            "Schedules and sensors are ON: the daemon `cm ui` starts runs them (nightly purges "
            "included). For development, start it with CM_AUTOMATION=off."
        )
    return (
        "Schedules and sensors are OFF (CM_AUTOMATION=off): nothing runs by itself; "
        "unset it for a deployment."
    )


def register(group: click.Group) -> None:
    group.add_command(demo_command)
