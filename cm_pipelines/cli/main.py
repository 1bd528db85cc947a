"""The ``cm`` command: one entry point, a module per command group in ``cm_pipelines.cli``."""

from __future__ import annotations

import warnings

import click
import dagster as dg

from cm_pipelines.cli import (
    access,
    approvals,
    audit,
    demo,
    dncr,
    dsar,
    holds,
    project,
    retention,
    workers,
)
from cm_pipelines.cli.errors import RedactingGroup


@click.group(cls=RedactingGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cm() -> None:
    """Call Manager compliance data platform."""


# Operators see the platform's messages, not Dagster's notes on its own beta parameters.
warnings.filterwarnings("ignore", category=dg.BetaWarning)


for module in (
    project,
    demo,
    dncr,
    dsar,
    holds,
    retention,
    approvals,
    access,
    audit,
    workers,
):
    module.register(cm)


def main() -> None:
    cm(prog_name="cm")


if __name__ == "__main__":
    main()
