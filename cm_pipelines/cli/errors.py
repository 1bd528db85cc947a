"""The ``cm`` group's error handling: whatever a command fails with reaches the terminal safe.

Click prints usage errors with the value the user typed (``'+61 491 570 156' is not ...``) and
commands quote the id they could not find; Python prints uncaught exceptions with their message.
Every such message is made safe here, once, for every command group that modules in
``cm_pipelines.commands`` register: phone numbers and emails masked, control characters (terminal
escapes, bidi overrides) shown as escapes, overlong values shortened.
"""

from __future__ import annotations

import re
import sys
import traceback
from typing import Any

import click
import dagster as dg

from cm_pipelines.domain.redaction import redact_text
from cm_pipelines.domain.tenants import ConfigError
from cm_pipelines.platform.audit_log import AuditEntryRefused
from cm_pipelines.platform.log_redaction import install_log_redaction
from cm_pipelines.resources.object_store import UnsafeObjectPathError

DEBUG_VARIABLE = "CM_DEBUG"
MAX_TOKEN = 80
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LONG_TOKEN = re.compile(rf"\S{{{MAX_TOKEN + 1},}}")


def safe_message(text: str) -> str:
    """Masked, escaped and shortened: fit for a terminal and a shell history."""
    text = redact_text(text)
    text = _UNSAFE.sub(lambda match: match.group().encode("unicode_escape").decode(), text)
    return _LONG_TOKEN.sub(
        lambda match: f"{match.group()[:40]}…({len(match.group())} characters)", text
    )


USER_ERRORS: tuple[type[Exception], ...] = (AuditEntryRefused, ConfigError, UnsafeObjectPathError)
"""Refusals raised below the command layer whose messages are written for the operator."""


class RedactingGroup(click.Group):
    """A click group whose errors, of any kind, carry no phone number, email or raw control."""

    def invoke(self, ctx: click.Context) -> Any:
        install_log_redaction()
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = safe_message(exc.message)  # type: ignore[misc]
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt, SystemExit):
            raise
        except USER_ERRORS as exc:
            raise click.ClickException(safe_message(f"refused: {exc}")) from None
        except Exception as exc:
            debug = bool(dg.EnvVar(DEBUG_VARIABLE).get_value(default=""))
            if debug:
                sys.stderr.write(safe_message("".join(traceback.format_exception(exc))))
            hint = "" if debug else f" (set {DEBUG_VARIABLE}=1 for the traceback)"
            raise click.ClickException(
                safe_message(f"unexpected {type(exc).__name__}: {exc}") + hint
            ) from None
