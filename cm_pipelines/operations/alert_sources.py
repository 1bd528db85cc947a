"""What an alert is made from, read from the Dagster instance: a failed run's failed steps and
checks, and the latest evaluation of each watched check. Ids, names and counts only: metadata
values that are not whole numbers or lists of ids are left behind."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

from cm_pipelines.domain.operations.alerts import FailedCheck, FailedRun, one_line

_STEP_FAILURE = DagsterEventType.STEP_FAILURE
_CHECK_EVALUATION = DagsterEventType.ASSET_CHECK_EVALUATION


def _error_message(event: Any) -> str:
    error = getattr(event.dagster_event.event_specific_data, "error", None)
    while error is not None and getattr(error, "cause", None) is not None and not error.message:
        error = error.cause
    message = str(getattr(error, "message", "") or "")
    # "dagster._core.definitions.events.Failure: why" -> "why"
    head, sep, tail = message.partition(": ")
    return tail if sep and "." in head and " " not in head else message


def failed_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> FailedRun:
    """The failed steps and checks of ``run`` and a one-line reason (a failed blocking check's
    description first: it says why, where the step failure only says that it stopped)."""
    records = instance.all_logs(run.run_id, of_type={_STEP_FAILURE, _CHECK_EVALUATION})
    steps, checks, reasons = [], [], []
    for event in records:
        dagster_event = event.dagster_event
        if dagster_event is None:
            continue
        if dagster_event.event_type == _STEP_FAILURE:
            steps.append(str(dagster_event.step_key))
            reasons.append(_error_message(event))
        else:
            evaluation = dagster_event.event_specific_data
            if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed:
                checks.append(evaluation.check_name)
                if evaluation.blocking and evaluation.description:
                    reasons.insert(0, evaluation.description)
    return FailedRun(
        job_name=run.job_name,
        run_id=run.run_id,
        tags=dict(run.tags),
        failed_steps=tuple(dict.fromkeys(steps)),
        failed_checks=tuple(dict.fromkeys(checks)),
        reason=one_line(next((r for r in reasons if r), "")),
    )


def _ids_and_counts(metadata: Mapping[str, Any]) -> tuple[list[str], dict[str, int]]:
    ids: list[str] = []
    counts: dict[str, int] = {}
    for key, entry in metadata.items():
        value = getattr(entry, "value", entry)
        name = key.removeprefix("dagster/")
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            counts[name] = value
        elif isinstance(value, float) and name.endswith("_seconds"):
            counts[name] = int(value)
        elif name.endswith("_ids") and isinstance(value, list):
            ids += [str(item) for item in value if isinstance(item, str | int)]
    return ids, counts


def failed_check(record: AssetCheckExecutionRecord) -> FailedCheck | None:
    """The failed evaluation in ``record``; None when it passed or is still planned."""
    if record.status != AssetCheckExecutionRecordStatus.FAILED or record.event is None:
        return None
    dagster_event = record.event.dagster_event
    if dagster_event is None:
        return None
    evaluation = dagster_event.event_specific_data
    if not isinstance(evaluation, dg.AssetCheckEvaluation):
        return None
    ids, counts = _ids_and_counts(evaluation.metadata)
    return FailedCheck(
        asset_key=evaluation.asset_key.to_user_string(),
        check_name=evaluation.check_name,
        severity=evaluation.severity.value,
        run_id=record.run_id or None,
        ids=tuple(ids),
        counts=counts,
        description=evaluation.description or "",
    )


def latest_evaluations(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetCheckKey]
) -> dict[str, AssetCheckExecutionRecord]:
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(keys))
    return {key.to_user_string(): record for key, record in latest.items()}


# --------------------------------------------------------------------------- sensor cursor

KEEP_SENT = timedelta(days=2)


def read_cursor(cursor: str | None) -> tuple[dict[str, int], dict[str, str]]:
    """(last handled evaluation id per check, when each alert fingerprint was last sent)."""
    state = json.loads(cursor) if cursor else {}
    return dict(state.get("seen", {})), dict(state.get("sent", {}))


def write_cursor(seen: Mapping[str, int], sent: Mapping[str, str], now: datetime) -> str:
    recent = {
        fingerprint: when
        for fingerprint, when in sent.items()
        if now - datetime.fromisoformat(when) < KEEP_SENT
    }
    return json.dumps({"seen": dict(seen), "sent": recent}, sort_keys=True)


def utc_now() -> datetime:
    return datetime.now(UTC)
