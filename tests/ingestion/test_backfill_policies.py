"""Backfills split as the assets' backfill policies say: ingestion a run per call day (so
workers share a month), call volumes one run for the whole range (one query, one transaction)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.platform import settings
from cm_pipelines.platform.launch import LaunchError, partitions_per_run, plan_backfill_runs
from cm_pipelines.tables import calls as call_tables

START = date(2026, 11, 2)
DAYS = [(START + timedelta(days=offset)).isoformat() for offset in range(3)]


def test_plan_groups_consecutive_keys_by_the_policy_limit() -> None:
    keys = ["d1", "d2", "d3", "d4", "d5"]
    assert plan_backfill_runs(keys, 1) == [("d1",), ("d2",), ("d3",), ("d4",), ("d5",)]
    assert plan_backfill_runs(keys, 2) == [("d1", "d2"), ("d3", "d4"), ("d5",)]
    assert plan_backfill_runs(keys, None) == [tuple(keys)]
    assert plan_backfill_runs([], None) == []
    with pytest.raises(LaunchError, match="at least one partition"):
        plan_backfill_runs(keys, 0)


def test_each_job_takes_the_strictest_policy_of_its_assets() -> None:
    from cm_pipelines.definitions import defs

    assert partitions_per_run("call_ingestion_job") == 1  # ingestion is a run per day
    ingestion = defs.resolve_job_def("call_ingestion_job")
    assert dg.AssetKey("call_day_volumes") not in ingestion.asset_layer.executable_asset_keys
    assert partitions_per_run("call_volumes_job") is None  # volumes take any range at once
    assert partitions_per_run("tenants_sync_job") == 1  # no policy: one partition per run
    for name in ("call_records", "recordings", "transcripts", "ai_summaries", "crm_links"):
        policy = defs.resolve_assets_def(name).backfill_policy
        assert policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=1), name
    assert defs.resolve_assets_def("call_day_volumes").backfill_policy == (
        dg.BackfillPolicy.single_run()
    )


def _expected_volumes(url: str) -> pd.DataFrame:
    """The volumes recounted independently with pandas from the warehouse's live rows."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        calls = pd.read_sql("SELECT * FROM calls WHERE deleted_at IS NULL", connection)
        recordings = pd.read_sql("SELECT * FROM recordings WHERE deleted_at IS NULL", connection)
        quarantine = pd.read_sql(
            "SELECT * FROM quarantine WHERE tenant_id IS NOT NULL AND purged_at IS NULL",
            connection,
        )
    engine.dispose()
    calls = calls[calls["erased_at"].isna()]
    key = ["tenant_id", "partition_date"]
    expected = calls.groupby(key).agg(
        calls=("call_id", "size"),
        answered_calls=("answered_at", "count"),
        billed_seconds=("billsec_s", "sum"),
    )
    expected = expected.join(
        recordings.groupby(key).agg(
            recordings=("call_id", "size"), recording_bytes=("bytes", "sum")
        ),
        how="outer",
    )
    quarantined = quarantine.groupby(["tenant_id", "partition_key"]).size()
    quarantined.index = quarantined.index.set_names(key)
    expected = expected.join(quarantined.rename("quarantined_items"), how="outer")
    expected = expected.fillna(0).astype(int).reset_index()
    expected["partition_date"] = expected["partition_date"].astype(str)
    return expected.rename(columns={"partition_date": "call_day"}).sort_values(
        ["tenant_id", "call_day"], ignore_index=True
    )


def _stored_volumes(url: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        stored = pd.read_sql(
            "SELECT tenant_id, call_day, calls, answered_calls, billed_seconds, recordings, "
            "recording_bytes, quarantined_items, transcripts, run_id FROM call_day_volumes",
            connection,
        )
    engine.dispose()
    stored["call_day"] = stored["call_day"].astype(str)
    return stored.sort_values(["tenant_id", "call_day"], ignore_index=True)


def test_a_volume_backfill_is_one_run_over_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    from cm_pipelines.cli.main import cm
    from cm_pipelines.cli.project import generate, initialise
    from cm_pipelines.platform.instance import get_instance, run_job

    monkeypatch.setenv("CM_EXECUTOR", "in_process")
    initialise()
    generate(3, 90, 3, True, len(DAYS), START)
    instance = get_instance()
    for day in DAYS:
        assert run_job("call_ingestion_job", instance=instance, partition_key=day).success
    url = settings.warehouse_url()
    assert _stored_volumes(url).empty  # ingestion runs a day at a time and counts nothing
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # a purge-like change before the count
        connection.execute(
            sa.text(
                "UPDATE calls SET deleted_at = CURRENT_TIMESTAMP WHERE call_id IN "
                "(SELECT call_id FROM calls ORDER BY call_id LIMIT 5)"
            )
        )
    engine.dispose()

    result = CliRunner().invoke(
        cm, ["backfill", "call_volumes_job", "--from", DAYS[0], "--to", DAYS[-1], "--actor", "dana"]
    )
    assert result.exit_code == 0, result.output
    [run] = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert run["success"] and run["partition"] == f"{DAYS[0]}...{DAYS[-1]}"

    stored = _stored_volumes(url)
    assert set(stored["run_id"]) == {run["run_id"]}
    expected = _expected_volumes(url)
    compared = list(expected.columns)
    pd.testing.assert_frame_equal(stored[compared], expected[compared], check_dtype=False)
    assert stored["transcripts"].sum() > 0 and stored["quarantined_items"].sum() >= 0
    # the single run recorded a materialization for every day of its range
    materialized = instance.fetch_materializations(
        dg.AssetKey("call_day_volumes"), limit=100
    ).records
    from_run = {r.partition_key for r in materialized if r.run_id == run["run_id"]}
    assert from_run == set(DAYS)

    # the same range again: the same rows, nothing doubled
    again = CliRunner().invoke(
        cm, ["backfill", "call_volumes_job", "--from", DAYS[0], "--to", DAYS[-1], "--actor", "dana"]
    )
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(
        _stored_volumes(url)[compared], expected[compared], check_dtype=False
    )


def test_consecutive_days_become_one_range_each() -> None:
    from cm_pipelines.domain.ingestion.call_volumes import contiguous_ranges

    d = [date(2026, 11, day) for day in (1, 2, 3, 5, 9, 10)]
    assert contiguous_ranges(reversed(d)) == [(d[0], d[2]), (d[3], d[3]), (d[4], d[5])]
    assert contiguous_ranges([]) == []


def _requests(warehouse) -> list:
    from cm_pipelines.ingestion.schedules import call_volumes_schedule

    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 6, 5, 30, tzinfo=UTC),
        resources={"warehouse": warehouse},
    )
    outcome = call_volumes_schedule(context)
    return [] if isinstance(outcome, dg.SkipReason) else list(outcome)


def test_the_nightly_recount_takes_exactly_the_days_that_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cm_pipelines.cli.project import generate, initialise
    from cm_pipelines.platform.instance import get_instance, run_job
    from cm_pipelines.resources import WarehouseResource

    initialise()
    generate(3, 60, 2, False, len(DAYS), START)
    instance = get_instance()
    for day in DAYS:
        assert run_job("call_ingestion_job", instance=instance, partition_key=day).success
    warehouse = WarehouseResource()
    [first_count] = _requests(warehouse)  # days never counted: one run over all three
    assert first_count.tags["dagster/asset_partition_range_start"] == DAYS[0]
    assert first_count.tags["dagster/asset_partition_range_end"] == DAYS[-1]
    assert run_job("call_volumes_job", instance=instance, tags=first_count.tags).success
    assert _requests(warehouse) == []
    url = settings.warehouse_url()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        # day 1 as if ingested before volumes existed; day 2 untouched; day 3 purged since
        connection.execute(
            sa.text("DELETE FROM call_day_volumes WHERE call_day = :day"), {"day": DAYS[0]}
        )
        purged = (
            sa.select(call_tables.calls.c.call_id)
            .where(call_tables.calls.c.partition_date == date.fromisoformat(DAYS[2]))
            .order_by(call_tables.calls.c.call_id)
            .limit(3)
        )
        connection.execute(
            sa.update(call_tables.calls)
            .where(call_tables.calls.c.call_id.in_(purged))
            .values(deleted_at=datetime.now(UTC))  # as a purge marks rows, after the count
        )
    engine.dispose()
    requests = _requests(warehouse)
    assert [request.partition_key for request in requests] == [DAYS[0], DAYS[2]]
    for request in requests:
        assert run_job(
            "call_volumes_job", instance=instance, partition_key=request.partition_key
        ).success
    stored = _stored_volumes(url)
    expected = _expected_volumes(url)
    compared = list(expected.columns)
    pd.testing.assert_frame_equal(stored[compared], expected[compared], check_dtype=False)
    assert _requests(warehouse) == []

    with sa.create_engine(url).begin() as connection:  # two stale neighbours: one range run
        connection.execute(
            sa.text("DELETE FROM call_day_volumes WHERE call_day IN (:a, :b)"),
            {"a": DAYS[0], "b": DAYS[1]},
        )
    [ranged] = _requests(warehouse)
    assert ranged.partition_key is None
    assert ranged.tags["dagster/asset_partition_range_start"] == DAYS[0]
    assert ranged.tags["dagster/asset_partition_range_end"] == DAYS[1]
    assert run_job("call_volumes_job", instance=instance, tags=ranged.tags).success
    assert _requests(warehouse) == []
