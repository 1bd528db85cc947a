"""``cm init``, ``cm generate`` and ``cm ui``: the project's warehouse, world and UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import click

from cm_pipelines.domain.tenants import ConfigError
from cm_pipelines.dsar.identifier_index import backfill_if_empty
from cm_pipelines.platform import settings
from cm_pipelines.platform.instance import get_instance, prepare_dagster_home, run_job
from cm_pipelines.resources import ObjectStoreResource, PlatformConfigResource, WarehouseResource


def initialise() -> dict[str, object]:
    """Migrate the warehouse, prepare the Dagster home and the object store, load tenants."""
    tenants = (
        PlatformConfigResource().tenants()
    )  # refuse a bad tenants file before touching anything
    warehouse = WarehouseResource()
    revision = warehouse.upgrade()
    store = ObjectStoreResource()
    if store.protocol == "file":
        os.makedirs(store.full_path("landing"), exist_ok=True)
    instance = get_instance()
    result = run_job("tenants_sync_job", instance=instance)
    if not result.success:
        raise click.ClickException("loading tenants failed: see the tenants_sync_job run in the UI")
    with warehouse.begin() as connection:
        indexed = backfill_if_empty(connection, settings.identifier_hash_key())
    return {
        "warehouse_revision": revision,
        "tenants": len(tenants),
        "identifier_index_backfilled": "no (already built)" if indexed is None else indexed,
        "dagster_home": str(settings.dagster_home()),
        "storage": store.root_url(),
    }


@click.command("init")
def init_command() -> None:
    """Create or upgrade the warehouse schema, the Dagster home and the object store."""
    try:
        summary = initialise()
    except ConfigError as exc:
        raise click.ClickException(f"configuration refused: {exc}") from exc
    for key, value in summary.items():
        click.echo(f"{key}: {value}")


def generate(
    seed: int, calls: int, tenant_count: int | None, audio: bool, days: int, start_day: date | None
):
    # the world generator (about 0.2 s of imports) is loaded only by the commands that generate
    from cm_pipelines.synthetic.world import generate_world

    tenants = PlatformConfigResource().tenants()
    if tenant_count is not None:
        if not 1 <= tenant_count <= len(tenants):
            raise click.BadParameter(
                f"--tenants must be between 1 and {len(tenants)} (the configured tenants)",
                param_hint="--tenants",
            )
        tenants = tenants[:tenant_count]
    store = ObjectStoreResource()
    first_day = start_day or (date.today() - timedelta(days=days))
    return generate_world(
        store.write_bytes,
        tenants,
        seed=seed,
        calls=calls,
        start_day=first_day,
        days=days,
        audio=audio,
    )


@click.command("generate")
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Random seed: same seed, same world."
)
@click.option("--calls", type=click.IntRange(1, 50_000_000), default=500, show_default=True)
@click.option(
    "--tenants", "tenant_count", type=int, default=None, help="Use the first K configured tenants."
)
@click.option("--no-audio", is_flag=True, help="Skip recordings, transcripts and AI outputs.")
@click.option("--days", type=click.IntRange(1, 366), default=3, show_default=True)
@click.option("--start-day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
def generate_command(seed, calls, tenant_count, no_audio, days, start_day) -> None:
    """Write a deterministic synthetic landing zone in the real formats."""
    summary = generate(
        seed, calls, tenant_count, not no_audio, days, start_day.date() if start_day else None
    )
    click.echo(
        json.dumps(
            {"files": summary.files_by_kind, "calls_by_tenant": summary.calls_by_tenant},
            sort_keys=True,
        )
    )


@click.command("ui")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind; keep it local."
)
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--read-only", is_flag=True, help="Serve the UI without launch or write actions.")
def ui_command(host: str, port: int, read_only: bool) -> None:
    """Start the Dagster webserver and daemon with the project's workspace and instance."""
    home = prepare_dagster_home()
    workspace = settings.project_root() / "workspace.yaml"
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            "warning: binding beyond loopback exposes call data to anyone who can reach this "
            "port; put an authenticating proxy in front (see README)",
            err=True,
        )
    env = dict(os.environ, DAGSTER_HOME=str(home))
    if read_only:
        command = [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            str(workspace),
            "-h",
            host,
            "-p",
            str(port),
            "--read-only",
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            str(workspace),
            "-h",
            host,
            "-p",
            str(port),
        ]
    raise SystemExit(subprocess.call(command, env=env))


def register(group: click.Group) -> None:
    for command in (init_command, generate_command, ui_command):
        group.add_command(command)
