"""The ``cm`` command: one entry point, a module per command group in ``cm_pipelines.commands``."""

from __future__ import annotations

import importlib
import pkgutil
import warnings

import click
import dagster as dg

from cm_pipelines import commands
from cm_pipelines.cli_errors import RedactingGroup


@click.group(cls=RedactingGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cm() -> None:
    """Call Manager compliance data platform."""


# Operators see the platform's messages, not Dagster's notes on its own beta parameters.
warnings.filterwarnings("ignore", category=dg.BetaWarning)


def _register_command_modules() -> None:
    """Every module in ``cm_pipelines.commands`` exposes ``register(group)``."""
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(cm)


_register_command_modules()


def main() -> None:
    cm(prog_name="cm")


if __name__ == "__main__":
    main()
