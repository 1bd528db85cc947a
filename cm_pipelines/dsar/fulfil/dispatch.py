"""Carrying out a verified request, one logged step at a time, so a killed run resumes.

Steps: ``locate`` (find, plan, persist the plan), the type's execution steps (``export``;
``erase.<store>`` per store; ``restrict``; ``rectify``; ``suppress``; ``revoke``), ``verify``
and ``complete``. A step's effect and its step-log row commit together where they are
warehouse changes; object-store changes happen first and are idempotent (deleting what is
already gone, blanking a blank line, redacting a redacted text), so a re-run repeats at most
the step it was killed in and ends in the same state.

This module sends the execution and verification steps to the request type's module.
Nothing here logs or returns a personal value: results are ids, counts, hashes and paths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cm_pipelines.dsar.fulfil import step_log
from cm_pipelines.dsar.fulfil.complete import complete
from cm_pipelines.dsar.fulfil.context import FulfilmentContext, FulfilmentError, StepReport
from cm_pipelines.dsar.fulfil.erase import erase
from cm_pipelines.dsar.fulfil.erase_verification import verify_erasure
from cm_pipelines.dsar.fulfil.export import export, verify_export
from cm_pipelines.dsar.fulfil.locate_and_plan import locate_and_plan
from cm_pipelines.dsar.fulfil.rectify import rectify, verify_rectification
from cm_pipelines.dsar.fulfil.restrict import restrict, verify_restriction
from cm_pipelines.dsar.fulfil.suppress import (
    revoke,
    suppress,
    verify_objection,
    verify_revocation,
)

EXECUTE: dict[str, Callable[[FulfilmentContext], None]] = {
    "access": export,
    "portability": export,
    "erasure": erase,
    "restriction": restrict,
    "rectification": rectify,
    "objection": suppress,
    "withdraw_consent": revoke,
}
CHECK: dict[str, Callable[[FulfilmentContext], dict[str, Any]]] = {
    "access": verify_export,
    "portability": verify_export,
    "restriction": verify_restriction,
    "rectification": verify_rectification,
    "objection": verify_objection,
    "withdraw_consent": verify_revocation,
}
"""How each type's effect is checked; an erasure verifies itself (``verify_erasure``)."""


def execute(fulfilment: FulfilmentContext) -> None:
    request_type = fulfilment.record().request_type
    step = EXECUTE.get(request_type)
    if step is None:
        raise FulfilmentError(f"request type {request_type} has no fulfilment")
    step(fulfilment)


def verify(fulfilment: FulfilmentContext) -> dict[str, Any]:
    done = step_log.resumed_past(fulfilment, "verify")
    if done is not None:
        return done
    request_type = fulfilment.record().request_type
    if request_type == "erasure":
        return verify_erasure(fulfilment)
    details = CHECK[request_type](fulfilment)
    if details.get("failed"):
        raise FulfilmentError(
            f"verification of request {fulfilment.request_id} failed: {details['failed']} "
            "record(s) do not show the change; re-run the request to retry"
        )
    with fulfilment.warehouse.begin() as connection:
        step_log.finish(fulfilment, connection, "verify", details)
    return details


def run_all(fulfilment: FulfilmentContext) -> StepReport:
    locate_and_plan(fulfilment)
    execute(fulfilment)
    verify(fulfilment)
    complete(fulfilment)
    return fulfilment.report
