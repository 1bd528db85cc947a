"""Housekeeping of the platform itself (not of client data): step outputs of finished runs.

Client data has its retention model (``retention``); what the platform leaves behind for its own
operation needs one too, or a multi-machine deployment's object store grows with every run.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from cm_pipelines.domain.step_outputs import RunEnding, runs_to_forget
from cm_pipelines.resources.io_storage import DEFAULT_IO_PREFIX, RUNS
from cm_pipelines.resources.object_purge import purge_objects
from cm_pipelines.resources.object_store import ObjectStoreResource

PLATFORM_GROUP = "platform"


class StepOutputExpiryConfig(dg.Config):
    keep_days: int = Field(
        default=7,
        ge=0,
        description="Days a finished run keeps its step outputs (re-execution from a failed "
        "step needs them).",
    )


@dg.asset(group_name=PLATFORM_GROUP, kinds={"python"}, tags={"cm/pii": "none"})
def step_output_expiry(
    context: dg.AssetExecutionContext,
    config: StepOutputExpiryConfig,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Step outputs (``CM_IO_STORAGE=object_store``) of runs that finished more than
    ``keep_days`` ago, or that the instance no longer knows, deleted and confirmed gone."""
    runs_prefix = f"{DEFAULT_IO_PREFIX}/{RUNS}"
    run_ids = object_store.list_folders(runs_prefix)
    endings: dict[str, RunEnding | None] = {}
    for run_id in run_ids:
        record = context.instance.get_run_record_by_id(run_id)
        if record is None:
            endings[run_id] = None
            continue
        ended = record.end_time
        endings[run_id] = RunEnding(
            record.dagster_run.is_finished,
            datetime.fromtimestamp(ended, UTC) if ended is not None else None,
        )
    cutoff = datetime.now(UTC) - timedelta(days=config.keep_days)
    expired = runs_to_forget(run_ids, endings, cutoff)
    paths = [
        item.path
        for run_id in expired
        for item in object_store.list_files(f"{runs_prefix}/{run_id}")
    ]
    outcome = purge_objects(object_store, paths)
    for run_id in expired:  # a local store keeps empty folders; the next listing must not
        object_store.prune_empty_folders(f"{runs_prefix}/{run_id}")
    if outcome.failed:
        context.log.warning(f"{len(outcome.failed)} step output(s) could not be deleted yet")
    return dg.MaterializeResult(
        metadata={
            "runs_with_outputs": len(run_ids),
            "runs_expired": len(expired),
            "unknown_runs": sum(1 for run_id in expired if endings.get(run_id) is None),
            "objects_deleted": len(outcome.gone),
            "objects_failed": len(outcome.failed),
            "keep_days": config.keep_days,
        }
    )
