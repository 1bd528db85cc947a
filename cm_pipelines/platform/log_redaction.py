"""Redaction of everything the process logs: ``context.log``, the ``cm_pipelines`` and ``dagster``
loggers, formatted tracebacks, and the error messages Dagster stores for failed steps and runs.

Dagster's ``context.log`` is a fresh ``logging.Logger`` per run whose handler writes the event
log, so a filter on a named logger never sees its records. What every record does pass through is
the process-wide log-record factory: installing a redacting factory masks phone numbers and
emails in each record's message (and in its traceback text) at the moment it is created, before
any handler — the event log, the console, captured stderr — can copy it. Failed steps store their
exception as ``SerializableErrorInfo``; its constructor from a traceback is wrapped the same way.

``install_log_redaction()`` is idempotent and runs when the definitions load.
"""

from __future__ import annotations

import inspect
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from dagster_shared.error import SerializableErrorInfo

from cm_pipelines.domain.redaction import redact_text

REDACTED_LOGGERS: tuple[str, ...] = ("cm_pipelines", "dagster")
_MARKER = "_cm_pipelines_redacting"
_LOCK = threading.Lock()


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask personal data in a record's final message and traceback text, in place."""
    if getattr(record, _MARKER, False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad %-format must not lose the record, nor leak its arguments
        message = str(record.msg)
    record.msg = redact_text(message)
    record.args = ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info)))
    elif record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    setattr(record, _MARKER, True)
    return record


class RedactingFilter(logging.Filter):
    """A filter that masks instead of dropping; attach it to any handler or logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def _redacting_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., Any]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    setattr(factory, _MARKER, True)
    return factory


def _wrap_serializable_error_info() -> None:
    """Failed steps keep ``message`` of their exception in the event log: mask it there too."""
    # ``@record`` rebuilds the class, so the classmethod lives on a base: look it up statically.
    current = inspect.getattr_static(SerializableErrorInfo, "from_traceback", None)
    if not isinstance(current, classmethod) or getattr(current, _MARKER, False):
        return
    original = current.__func__

    def from_traceback(cls, tb):  # type: ignore[no-untyped-def]
        info = original(cls, tb)
        message = redact_text(info.message)
        if message == info.message:
            return info
        return cls(
            message=message,
            stack=info.stack,
            cls_name=info.cls_name,
            cause=info.cause,
            context=info.context,
        )

    wrapped = classmethod(from_traceback)
    setattr(wrapped, _MARKER, True)
    SerializableErrorInfo.from_traceback = wrapped  # type: ignore[method-assign,assignment]


def install_log_redaction() -> None:
    """Make every log record and stored error of this process carry masked text only."""
    with _LOCK:
        current = logging.getLogRecordFactory()
        if not getattr(current, _MARKER, False):
            logging.setLogRecordFactory(_redacting_factory(current))
        for name in REDACTED_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, RedactingFilter) for f in logger.filters):
                logger.addFilter(RedactingFilter())
        _wrap_serializable_error_info()


def log_redaction_installed() -> bool:
    return bool(getattr(logging.getLogRecordFactory(), _MARKER, False))
