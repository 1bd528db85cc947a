"""``cm demo``: a small generated world pushed through every job, recorded in the project's
instance; the steps live in ``demo_steps``. Summary lines carry counts only.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, timedelta

import click

from cm_pipelines.cli.project import generate, initialise
from cm_pipelines.domain.tenants import ConfigError
from cm_pipelines.platform import settings
from cm_pipelines.platform.automation import automation_enabled
from cm_pipelines.platform.instance import console_log_level, get_instance
from cm_pipelines.resources.object_store import ObjectStoreResource

DEMO_DAYS = 3


def existing_world() -> bool:
    """Whether a world was generated here before (landing files in the object store)."""
    store = ObjectStoreResource()
    try:
        return bool(store.list_files("landing"))
    except FileNotFoundError:
        return False


def wipe_embedded_world() -> None:
    """``--fresh``: remove the embedded default's warehouse, object store and Dagster home
    (runs included); the identifier hash key stays. Refused for any other deployment."""
    home = settings.cm_home()
    warehouse_file = home / "warehouse.db"
    if settings.warehouse_url() != f"sqlite:///{warehouse_file}" or (
        settings.storage_url() != f"file://{home / 'storage'}"
    ):
        raise click.ClickException(
            "--fresh only wipes the embedded default under CM_HOME; this deployment's "
            "warehouse or object store is elsewhere: run the demo against a fresh CM_HOME"
        )
    dagster_home = settings.dagster_home()
    for path in (home / "storage", dagster_home):
        if path.is_dir():
            shutil.rmtree(path)
    warehouse_file.unlink(missing_ok=True)


def run_demo(
    *, seed: int, calls: int, echo: Callable[[str], None], fresh: bool = False
) -> list[str]:
    # every capability's services, loaded when the demo runs, not at every `cm` start
    from cm_pipelines.cli.demo_steps import DEMO_STEPS, DemoContext

    if existing_world():
        if not fresh:
            raise click.ClickException(
                "a demo world already exists here (landing files under the object store): a "
                "second one would layer onto it. Run `cm demo --fresh` to start again from "
                "nothing (the embedded default only), or `make clean`"
            )
        echo("wiping the previous demo world (--fresh) ...")
        wipe_embedded_world()
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
@click.option("--fresh", is_flag=True, help="Wipe the previous demo world first (embedded only).")
def demo_command(seed: int, calls: int, fresh: bool) -> None:
    """Init, generate a small world and run every job once through the project's instance;
    refused on an existing world unless --fresh."""
    try:
        lines = run_demo(seed=seed, calls=calls, echo=click.echo, fresh=fresh)
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
