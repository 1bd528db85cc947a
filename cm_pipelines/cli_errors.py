"""The ``cm`` group's error handling: whatever a command fails with reaches the terminal masked.

Click prints usage errors with the value the user typed (``'+61 491 570 156' is not ...``) and
Python prints uncaught exceptions with their message; both are redacted here, once, for every
command group that modules in ``cm_pipelines.commands`` register.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from cm_pipelines.domain.redaction import redact_text
from cm_pipelines.log_redaction import install_log_redaction

DEBUG_VARIABLE = "CM_DEBUG"


class RedactingGroup(click.Group):
    """A click group whose errors, of any kind, carry no phone number or email."""

    def invoke(self, ctx: click.Context) -> Any:
        install_log_redaction()
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = redact_text(exc.message)
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_VARIABLE):
                sys.stderr.write(redact_text("".join(traceback.format_exception(exc))))
            hint = (
                ""
                if os.environ.get(DEBUG_VARIABLE)
                else f" (set {DEBUG_VARIABLE}=1 for the traceback)"
            )
            raise click.ClickException(
                redact_text(f"unexpected {type(exc).__name__}: {exc}") + hint
            ) from None
