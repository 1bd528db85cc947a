"""The run's failure message as the Dagster UI shows it: the error of the run's failure event
(Dagster copies the first failed step's error there). A refusal must say why in one line."""

from __future__ import annotations

import dagster as dg


def run_failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The failed run's message, without the exception's class prefix Dagster adds."""
    event = result.get_run_failure_event()
    error = event.job_failure_data.error
    assert error is not None, "the run failed without an error to show"
    message = error.message.strip()
    prefix = "dagster._core.definitions.events.Failure: "
    assert message.startswith(prefix), (
        message
    )  # a dg.Failure, not a raw DagsterAssetCheckFailedError
    return message.removeprefix(prefix)


def assert_one_line_reason(result: dg.ExecuteInProcessResult, *fragments: str) -> str:
    """The run failed with a one-line reason holding every fragment; returns it."""
    assert not result.success
    reason = run_failure_message(result)
    assert "\n" not in reason, reason
    for fragment in fragments:
        assert fragment in reason, reason
    return reason
