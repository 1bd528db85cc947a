"""Step outputs kept in the object store (``CM_IO_STORAGE=object_store``): op outputs of a
fan-out and its collect, ``None``, partitioned and unpartitioned asset outputs and inputs over
several partitions round-trip through a local folder (and an S3-protocol server); the registry
snapshot's fan-out hands over file descriptions only; paths are made of ids only and always
safe; the environment variable picks the manager or leaves Dagster's default alone, and the
commands refuse an unknown value."""

# No ``from __future__ import annotations``: this module defines ops and assets.
import pickle
from pathlib import Path

import dagster as dg
import pytest

from cm_pipelines.resources import ObjectStoreResource, default_resources
from cm_pipelines.resources.io_storage import (
    DEFAULT_IO_PREFIX,
    IO_STORAGE_ENV,
    IOStorageConfigError,
    ObjectStoreIOManager,
    StoredOutputError,
    io_manager_resources,
    io_storage_mode,
    path_segment,
)
from cm_pipelines.resources.object_store import UnsafeObjectPathError, check_relative_path

PHONE = "+61491570156"
EMAIL = "jane.citizen@example.org"
TENANTS = ("acme-au", "beta-us", "gamma-sg")


@pytest.fixture(autouse=True)
def _no_io_storage_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(IO_STORAGE_ENV, raising=False)


def _manager(store: ObjectStoreResource) -> ObjectStoreIOManager:
    return ObjectStoreIOManager(object_store=store)


def _stored(store: ObjectStoreResource, prefix: str = DEFAULT_IO_PREFIX) -> dict[str, object]:
    return {
        item.path: pickle.loads(store.read_bytes(item.path)) for item in store.list_files(prefix)
    }


# ---------------------------------------------------------------- a fan-out job


@dg.op(out=dg.DynamicOut(dict))
def plan_slices():
    """One slice per tenant; the value carries a personal identifier on purpose, to show that
    values never reach a path."""
    for tenant_id in TENANTS:
        key = tenant_id.replace("-", "_")
        yield dg.DynamicOutput({"tenant_id": tenant_id, "contact": PHONE}, mapping_key=key)


@dg.op
def ingest_slice(work: dict) -> dict:
    assert work["contact"] == PHONE  # loaded back as it was stored
    return {"tenant_id": work["tenant_id"], "rows": len(work["tenant_id"]), "owner": EMAIL}


@dg.op
def finish_day(reported: list):
    assert sorted(item["tenant_id"] for item in reported) == list(TENANTS)
    return None  # no annotation: an output of type Any, stored like any other


@dg.op
def after_finish(nothing) -> int:
    assert nothing is None
    return 7


@dg.job
def fan_out_job():
    after_finish(finish_day(plan_slices().map(ingest_slice).collect()))


def _expected_run_paths(run_id: str) -> set[str]:
    base = f"{DEFAULT_IO_PREFIX}/runs/{run_id}"
    keys = [tenant_id.replace("-", "_") for tenant_id in TENANTS]
    return (
        {f"{base}/plan_slices/result/{key}" for key in keys}
        | {f"{base}/ingest_slice%5B{key}%5D/result" for key in keys}
        | {f"{base}/finish_day/result", f"{base}/after_finish/result"}
    )


def _check_fan_out_round_trip(store: ObjectStoreResource) -> None:
    result = fan_out_job.execute_in_process(resources={"io_manager": _manager(store)})
    assert result.success
    run_id = result.run_id
    stored = _stored(store)
    assert set(stored) == _expected_run_paths(run_id)
    base = f"{DEFAULT_IO_PREFIX}/runs/{run_id}"
    assert stored[f"{base}/plan_slices/result/beta_us"] == {
        "tenant_id": "beta-us",
        "contact": PHONE,
    }
    assert stored[f"{base}/ingest_slice%5Bgamma_sg%5D/result"] == {
        "tenant_id": "gamma-sg",
        "rows": 8,
        "owner": EMAIL,
    }
    assert stored[f"{base}/finish_day/result"] is None
    assert stored[f"{base}/after_finish/result"] == 7
    # a fresh manager (another process, another machine) loads what this one stored
    upstream = dg.build_output_context(
        run_id=run_id, step_key="ingest_slice[acme_au]", name="result"
    )
    loaded = _manager(store).load_input(dg.build_input_context(upstream_output=upstream))
    assert loaded == {"tenant_id": "acme-au", "rows": 7, "owner": EMAIL}


def test_op_outputs_of_a_fan_out_and_its_collect_round_trip(local_store) -> None:
    _check_fan_out_round_trip(local_store)


@pytest.mark.integration
def test_op_outputs_round_trip_through_an_s3_bucket(s3_store) -> None:
    _check_fan_out_round_trip(s3_store)


def test_paths_carry_ids_only_never_the_values(local_store) -> None:
    result = fan_out_job.execute_in_process(resources={"io_manager": _manager(local_store)})
    assert result.success
    objects = local_store.list_files(DEFAULT_IO_PREFIX)
    data = b"".join(local_store.read_bytes(item.path) for item in objects)
    assert PHONE.encode() in data and EMAIL.encode() in data  # the values were stored...
    allowed = {
        *DEFAULT_IO_PREFIX.split("/"),
        "runs",
        result.run_id,
        "result",
        "plan_slices",
        "finish_day",
        "after_finish",
        *(key.replace("-", "_") for key in TENANTS),
        *(f"ingest_slice%5B{key.replace('-', '_')}%5D" for key in TENANTS),
    }
    for item in objects:  # ...but every path segment is an id Dagster gave the step
        assert set(item.path.split("/")) <= allowed, item.path
        assert PHONE not in item.path and EMAIL not in item.path and "[" not in item.path


def test_a_none_output_is_stored_and_loads_as_none(local_store) -> None:
    manager = _manager(local_store)
    context = dg.build_output_context(run_id="r-1", step_key="quiet", name="result")
    manager.handle_output(context, None)
    path = f"{DEFAULT_IO_PREFIX}/runs/r-1/quiet/result"
    assert local_store.exists(path)
    assert manager.load_input(dg.build_input_context(upstream_output=context)) is None


def test_a_missing_output_says_what_to_check(local_store) -> None:
    upstream = dg.build_output_context(run_id="r-2", step_key="never_ran", name="result")
    with pytest.raises(StoredOutputError, match=IO_STORAGE_ENV):
        _manager(local_store).load_input(dg.build_input_context(upstream_output=upstream))


# ---------------------------------------------------------------- the registry snapshot


def test_the_registry_snapshot_fan_out_hands_over_descriptions_only(
    sqlite_warehouse, local_store, tmp_path: Path
) -> None:
    """The real graph asset: one parse step per landed area-code file, each handed its file's
    description and handing back its part's path; no registered number in any stored object."""
    from cm_pipelines.dncr.run_config import (
        AREA_CODE_FILES_OP,
        PARSE_AREA_CODE_FILE_OP,
        SNAPSHOT_OP,
    )
    from cm_pipelines.domain.dncr.ftc_files import format_ftc_lines
    from cm_pipelines.platform import landing
    from tests.dncr.dncr_helpers import (
        failure_message,
        refresh,
        registries_config,
        us_numbers,
        zip_member,
    )

    numbers = us_numbers(300, area_codes=(212, 415))
    for area in (212, 415):
        lines = format_ftc_lines(numbers[(numbers - 10_000_000_000) // 10_000_000 == area])
        path = f"{landing.registry_full_dir('us_ftc', '2026-11-01')}/{area}.zip"
        local_store.write_bytes(path, zip_member(f"{area}.txt", lines))
    resources = {
        "warehouse": sqlite_warehouse,
        "object_store": local_store,
        "platform_config": registries_config(tmp_path),
        "io_manager": _manager(local_store),
    }
    result = refresh(resources, ["us_ftc"], as_of="2026-11-02T12:00:00+00:00")
    assert result.success, failure_message(result)

    stored = _stored(local_store)
    run_base = f"{DEFAULT_IO_PREFIX}/runs/{result.run_id}"
    files = {
        k: v
        for k, v in stored.items()
        if k.startswith(f"{run_base}/{SNAPSHOT_OP}.{AREA_CODE_FILES_OP}/")
    }
    parsed = {
        k: v
        for k, v in stored.items()
        if k.startswith(f"{run_base}/{SNAPSHOT_OP}.{PARSE_AREA_CODE_FILE_OP}%5B")
    }
    assert len(files) == len(parsed) == 2
    assert sorted(v["path"] for v in files.values()) == sorted(v["path"] for v in parsed.values())
    assert all(set(v) == {"registry_id", "path", "part_path"} for v in parsed.values())
    # the graph asset's own output (None) is an asset output, not a run output
    assert stored[f"{DEFAULT_IO_PREFIX}/assets/{SNAPSHOT_OP}/__all__"] is None
    assert set(stored) == set(files) | set(parsed) | {
        f"{DEFAULT_IO_PREFIX}/assets/{SNAPSHOT_OP}/__all__"
    }
    text = b"".join(local_store.read_bytes(path) for path in stored)
    for number in numbers[::25]:
        assert str(int(number)).encode() not in text
        assert str(int(number))[1:].encode() not in text  # national form too


# ---------------------------------------------------------------- assets

days = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@dg.asset(partitions_def=days, key_prefix=["calls"])
def day_counts(context: dg.AssetExecutionContext) -> dict:
    return {"day": context.partition_key, "calls": int(context.partition_key[-2:])}


@dg.asset(partitions_def=days, key_prefix=["calls"])
def day_summary(day_counts: dict) -> int:
    return day_counts["calls"] * 10


@dg.asset(key_prefix=["calls"])
def month_total(day_counts: dict) -> dict:
    return {"days": sorted(day_counts), "calls": sum(v["calls"] for v in day_counts.values())}


def test_partitioned_asset_outputs_and_inputs(local_store) -> None:
    resources = {"io_manager": _manager(local_store)}
    for day in ("2026-11-02", "2026-11-03"):
        assert dg.materialize(
            [day_counts, day_summary], partition_key=day, resources=resources
        ).success
    base = f"{DEFAULT_IO_PREFIX}/assets/calls"
    stored = _stored(local_store)
    assert stored == {
        f"{base}/day_counts/2026-11-02": {"day": "2026-11-02", "calls": 2},
        f"{base}/day_counts/2026-11-03": {"day": "2026-11-03", "calls": 3},
        f"{base}/day_summary/2026-11-02": 20,
        f"{base}/day_summary/2026-11-03": 30,
    }
    # an unpartitioned asset reads every partition of day_counts; most were never stored, and
    # the input does not allow missing partitions: the step fails saying what is missing
    result = dg.materialize(
        [day_counts.to_source_asset(), month_total], resources=resources, raise_on_error=False
    )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert "no stored output at _dagster/io/assets/calls/day_counts/2026-11-01" in str(
        failure.step_failure_data.error
    )


@dg.asset(partitions_def=days, key_prefix=["calls"])
def landed_days(context: dg.AssetExecutionContext) -> str:
    return context.partition_key


@dg.asset(
    partitions_def=days,
    key_prefix=["calls"],
    ins={
        "landed_days": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-2),
            metadata={"allow_missing_partitions": True},
        )
    },
)
def three_day_window(landed_days: dict) -> list:
    return sorted(landed_days.items())


def test_an_input_over_several_partitions_is_a_dict_by_partition(local_store) -> None:
    resources = {"io_manager": _manager(local_store)}
    for day in ("2026-11-03", "2026-11-04"):
        assert dg.materialize([landed_days], partition_key=day, resources=resources).success
    # 2026-11-05 reads 11-03, 11-04 and the missing 11-05 (allowed to be missing here)
    result = dg.materialize(
        [landed_days.to_source_asset(), three_day_window],
        partition_key="2026-11-05",
        resources=resources,
    )
    assert result.success
    assert result.output_for_node("calls__three_day_window") == [
        ("2026-11-03", "2026-11-03"),
        ("2026-11-04", "2026-11-04"),
    ]
    assert local_store.exists(f"{DEFAULT_IO_PREFIX}/assets/calls/three_day_window/2026-11-05")


def test_an_unpartitioned_asset_and_a_multi_partition_key(local_store) -> None:
    manager = _manager(local_store)
    assert manager.asset_path(dg.AssetKey(["dncr", "snapshot"])) == (
        f"{DEFAULT_IO_PREFIX}/assets/dncr/snapshot/__all__"
    )
    key = dg.MultiPartitionKey({"tenant": "acme-au", "day": "2026-11-02"})
    assert manager.asset_path(dg.AssetKey("slices"), key) == (
        f"{DEFAULT_IO_PREFIX}/assets/slices/2026-11-02/acme-au"
    )
    hourly = manager.asset_path(dg.AssetKey("hourly"), "2026-11-02-10:00")
    assert hourly == f"{DEFAULT_IO_PREFIX}/assets/hourly/2026-11-02-10%3A00"


def test_one_output_for_several_partitions_is_refused(local_store) -> None:
    context = dg.build_output_context(
        asset_key=dg.AssetKey("day_counts"),
        partition_key="2026-11-02",
        asset_partitions_def=days,
    )
    manager = _manager(local_store)
    assert manager.output_path(context).endswith("/assets/day_counts/2026-11-02")
    ranged = dg.build_output_context(
        asset_key=dg.AssetKey("day_counts"),
        asset_partitions_def=days,
        asset_partition_key_range=dg.PartitionKeyRange("2026-11-02", "2026-11-04"),
    )
    with pytest.raises(StoredOutputError, match="3 partitions"):
        manager.output_path(ranged)


# ---------------------------------------------------------------- path safety


def test_path_segments_are_safe_and_distinct() -> None:
    cases = {
        "ingest[acme_au]": "ingest%5Bacme_au%5D",
        "9c1f0e4a-2b7d-4c55-9a0e-1f2d3c4b5a69": "9c1f0e4a-2b7d-4c55-9a0e-1f2d3c4b5a69",
        "a/b": "a%2Fb",
        "..": "%2E%2E",
        ".": "%2E",
        "50%": "50%25",
        "tenant|day": "tenant%7Cday",
        "café": "caf%C3%A9",
        "x\ny": "x%0Ay",
    }
    for raw, encoded in cases.items():
        assert path_segment(raw) == encoded
        check_relative_path(f"{DEFAULT_IO_PREFIX}/{encoded}")
    raws = ["a/b", "a%2Fb", "a_b", "a[b]", "a%5Bb%5D"]
    assert len({path_segment(raw) for raw in raws}) == len(raws)


def test_an_unsafe_prefix_is_refused(local_store) -> None:
    manager = ObjectStoreIOManager(object_store=local_store, prefix="../outside")
    context = dg.build_output_context(run_id="r-3", step_key="s", name="result")
    with pytest.raises(UnsafeObjectPathError):
        manager.handle_output(context, 1)
    assert not any(Path(local_store.root_url().removeprefix("file://")).parent.rglob("result"))


# ---------------------------------------------------------------- selection


def test_default_and_filesystem_leave_dagsters_io_manager_alone(monkeypatch) -> None:
    assert io_storage_mode() == "filesystem"
    assert "io_manager" not in default_resources()
    monkeypatch.setenv(IO_STORAGE_ENV, "filesystem")
    assert "io_manager" not in default_resources()
    assert set(default_resources()) == {"warehouse", "object_store", "platform_config", "alerts"}


def test_object_store_adds_the_manager_on_the_same_store(monkeypatch) -> None:
    monkeypatch.setenv(IO_STORAGE_ENV, "Object-Store")
    resources = default_resources()
    manager = resources["io_manager"]
    assert isinstance(manager, ObjectStoreIOManager)
    assert manager.object_store is resources["object_store"]
    assert manager.prefix == DEFAULT_IO_PREFIX


def test_an_unknown_value_is_refused_naming_the_choices(monkeypatch) -> None:
    monkeypatch.setenv(IO_STORAGE_ENV, "nfs-share")
    with pytest.raises(IOStorageConfigError) as caught:
        io_manager_resources(ObjectStoreResource())
    message = str(caught.value)
    assert IO_STORAGE_ENV in message and "filesystem" in message and "object_store" in message
    assert "nfs" not in message
    with pytest.raises(IOStorageConfigError):
        default_resources()


def test_definitions_built_from_the_environment_store_outputs(monkeypatch, tmp_path: Path) -> None:
    """What the code location does: the same job, unchanged, stores its outputs in the store
    named by CM_STORAGE_URL when CM_IO_STORAGE=object_store, and not otherwise."""
    root = tmp_path / "platform_store"
    monkeypatch.setenv("CM_STORAGE_URL", f"file://{root}")
    store = ObjectStoreResource()

    def run(job_name: str) -> str:
        defs = dg.Definitions(jobs=[fan_out_job], resources=default_resources())
        result = defs.resolve_job_def(job_name).execute_in_process()
        assert result.success
        return result.run_id

    run("fan_out_job")
    assert store.list_files(DEFAULT_IO_PREFIX) == []
    monkeypatch.setenv(IO_STORAGE_ENV, "object_store")
    run_id = run("fan_out_job")
    assert set(_stored(store)) == _expected_run_paths(run_id)


def test_commands_refuse_an_unknown_value_before_starting_anything(monkeypatch) -> None:
    from click.testing import CliRunner

    from cm_pipelines.cli.main import cm

    monkeypatch.setenv(IO_STORAGE_ENV, "shared_disk")
    monkeypatch.setenv("CM_EXECUTOR", "celery")
    monkeypatch.setenv("CM_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")

    def no_exec(*args: object) -> None:
        raise AssertionError("the worker was started despite the bad value")

    monkeypatch.setattr("os.execvpe", no_exec)
    runner = CliRunner()
    for args in (["worker", "--name", "a"], ["launch", "tenants_sync_job", "--actor", "dana"]):
        result = runner.invoke(cm, args)
        assert result.exit_code != 0
        assert f"{IO_STORAGE_ENV} must be one of filesystem, object_store" in result.output
