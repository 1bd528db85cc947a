"""Step outputs left in the object store by finished runs are deleted after a while; those of
runs in flight, or finished recently, are kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg

from cm_pipelines.domain.step_outputs import RunEnding, runs_to_forget
from cm_pipelines.housekeeping.assets import step_output_expiry
from cm_pipelines.resources.io_storage import DEFAULT_IO_PREFIX, ObjectStoreIOManager

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def test_finished_before_the_cutoff_or_unknown_runs_are_forgotten() -> None:
    endings = {
        "old": RunEnding(True, NOW - timedelta(days=8)),
        "recent": RunEnding(True, NOW - timedelta(days=1)),
        "running": RunEnding(False, None),
        "no-end-time": RunEnding(True, None),
        "deleted": None,
    }
    cutoff = NOW - timedelta(days=7)
    assert runs_to_forget([*endings, "never-seen"], endings, cutoff) == [
        "deleted",
        "never-seen",
        "old",
    ]
    assert runs_to_forget([], endings, cutoff) == []


@dg.op
def first_step() -> str:
    return "req-1"


@dg.op
def second_step(value: str) -> str:
    return value.upper()


@dg.job
def two_steps():
    second_step(first_step())


def _run_folders(store) -> set[str]:
    return set(store.list_folders(f"{DEFAULT_IO_PREFIX}/runs"))


def test_expiry_keeps_runs_in_flight_and_recent_ones(local_store) -> None:
    instance = dg.DagsterInstance.ephemeral()
    manager = ObjectStoreIOManager(object_store=local_store)
    finished = [
        two_steps.execute_in_process(resources={"io_manager": manager}, instance=instance).run_id
        for _ in range(2)
    ]
    in_flight = instance.create_run_for_job(two_steps, run_id=str(uuid.uuid4()))
    unknown = str(uuid.uuid4())
    for run_id in (in_flight.run_id, unknown):
        local_store.write_bytes(f"{DEFAULT_IO_PREFIX}/runs/{run_id}/first_step/result", b"x")
    assert _run_folders(local_store) == {*finished, in_flight.run_id, unknown}

    def expire(keep_days: int) -> dict:
        result = dg.materialize(
            [step_output_expiry],
            resources={"object_store": local_store},
            instance=instance,
            run_config={"ops": {"step_output_expiry": {"config": {"keep_days": keep_days}}}},
        )
        assert result.success
        [event] = result.get_asset_materialization_events()
        return {k: v.value for k, v in event.materialization.metadata.items()}  # type: ignore[union-attr]

    week = expire(7)  # the finished runs are recent: only the unknown run's outputs go
    assert week["runs_expired"] == 1 and week["unknown_runs"] == 1
    assert _run_folders(local_store) >= {*finished, in_flight.run_id}
    assert unknown not in _run_folders(local_store)

    now = expire(0)  # every finished run (this expiry run's own outputs included) goes
    assert now["objects_deleted"] >= 4  # two runs, two step outputs each
    remaining = {item.path for item in local_store.list_files(f"{DEFAULT_IO_PREFIX}/runs")}
    assert not any(run_id in path for path in remaining for run_id in finished)
    assert any(in_flight.run_id in path for path in remaining)  # not finished: kept
