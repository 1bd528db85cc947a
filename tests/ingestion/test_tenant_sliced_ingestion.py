"""A call day ingested in tenant slices ends exactly as when ingested in one step, and a run
that dies between slices is finished by running the day again."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from cm_pipelines.platform import landing, settings
from tests.ingestion.ingestion_helpers import materialization_metadata
from tests.integration.scale_helpers import snapshot

DAY = date(2026, 11, 2)
CALL_ASSETS = ("call_records", "recordings", "transcripts", "ai_summaries", "crm_links")


def _world(home: Path, monkeypatch: pytest.MonkeyPatch, slice_bytes: int | None) -> str:
    """A fresh embedded platform with one generated call day of four tenants."""
    from cm_pipelines.cli.project import generate, initialise

    monkeypatch.setenv("CM_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    if slice_bytes is None:
        monkeypatch.delenv("CM_INGEST_SLICE_BYTES", raising=False)
    else:
        monkeypatch.setenv("CM_INGEST_SLICE_BYTES", str(slice_bytes))
    initialise()
    world = generate(5, 160, 4, True, 1, DAY)
    _land_bad_input(sorted(world.calls_by_tenant))
    return settings.warehouse_url()


def _land_bad_input(tenant_ids: list[str]) -> None:
    """Quarantine in every slice and outside them: slices must keep each other's rows."""
    from cm_pipelines.resources import ObjectStoreResource

    store = ObjectStoreResource()
    day = DAY.isoformat()
    for tenant_id in tenant_ids:
        path = landing.cdr_file(tenant_id, day)
        store.write_bytes(path, store.read_bytes(path) + b'"too","few","fields"\n')
        store.write_bytes(landing.transcript_file(tenant_id, day, "1.1", "aws"), b"{not json")
    store.write_bytes(landing.cdr_file("unknown-co", day), b'"x"\n')


def _ingest(**kwargs) -> dg.ExecuteInProcessResult:
    from cm_pipelines.platform.instance import get_instance, run_job

    return run_job(
        "call_ingestion_job", instance=get_instance(), partition_key=DAY.isoformat(), **kwargs
    )


def _ingest_steps(result: dg.ExecuteInProcessResult, asset: str) -> list[str]:
    return sorted(
        event.step_key
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
        and event.step_key.startswith(f"{asset}.{asset}_ingest_tenant_slice[")
    )


@pytest.fixture
def one_step_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = _world(tmp_path / "one_step", monkeypatch, None)
    result = _ingest()
    assert result.success
    return snapshot(url), result


def test_one_slice_per_tenant_ends_like_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_step_reference
) -> None:
    reference, one_step = one_step_reference
    assert len(reference["calls"]) > 0 and len(reference["transcripts"]) > 0
    reasons = {(row[0], row[5]) for row in reference["quarantine"]}
    assert {("call_records", "wrong_field_count"), ("call_records", "unknown_tenant")} <= reasons
    assert len({row[2] for row in reference["quarantine"]}) == 5  # four tenants and none
    for asset in CALL_ASSETS:
        assert len(_ingest_steps(one_step, asset)) == 1
        assert materialization_metadata(one_step, asset)["tenant_slices"] == 1

    url = _world(tmp_path / "sliced", monkeypatch, 1)  # every tenant is "large"
    sliced = _ingest()
    assert sliced.success
    assert snapshot(url) == reference
    for asset in ("call_records", "recordings", "transcripts", "ai_summaries"):
        assert len(_ingest_steps(sliced, asset)) == 4, asset
        assert materialization_metadata(sliced, asset)["tenant_slices"] == 4
    for key in ("rows_parsed", "rows_inserted", "files_read", "calls_by_tenant", "directions"):
        assert (
            materialization_metadata(sliced, "call_records")[key]
            == materialization_metadata(one_step, "call_records")[key]
        ), key
    # running the day again, sliced differently, changes nothing
    monkeypatch.delenv("CM_INGEST_SLICE_BYTES")
    assert _ingest().success
    assert snapshot(url) == reference


def test_a_run_that_dies_between_slices_is_finished_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_step_reference
) -> None:
    from cm_pipelines.ingestion import call_records as calls

    reference, _ = one_step_reference
    url = _world(tmp_path / "interrupted", monkeypatch, 1)
    real_reader = calls.read_cdr_csv

    def dies_on_gamma(data: bytes, path: str, tenants):
        if "gamma-sg" in tenants:
            raise RuntimeError("worker lost")
        return real_reader(data, path, tenants)

    monkeypatch.setattr(calls, "read_cdr_csv", dies_on_gamma)
    broken = _ingest()
    assert not broken.success
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        ingested = {
            row[0] for row in connection.execute(sa.text("SELECT DISTINCT tenant_id FROM calls"))
        }
    engine.dispose()
    assert ingested == {"acme-au", "beta-us", "delta-gb"}  # the other slices committed

    monkeypatch.setattr(calls, "read_cdr_csv", real_reader)
    assert _ingest().success
    assert snapshot(url) == reference


def test_a_slice_size_that_is_not_a_positive_number_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for bad in ("0", "-1", "lots"):
        monkeypatch.setenv("CM_INGEST_SLICE_BYTES", bad)
        with pytest.raises(settings.SettingError, match="CM_INGEST_SLICE_BYTES"):
            settings.ingest_slice_bytes()
    monkeypatch.setenv("CM_INGEST_SLICE_BYTES", "1024")
    assert settings.ingest_slice_bytes() == 1024
    monkeypatch.delenv("CM_INGEST_SLICE_BYTES")
    assert settings.ingest_slice_bytes() == settings.INGEST_SLICE_BYTES_DEFAULT
