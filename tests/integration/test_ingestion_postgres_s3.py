"""One ingestion run on production-shaped infrastructure: the warehouse and Dagster's own
run/event storage on the real PostgreSQL, the landing zone on an S3-protocol server."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from cm_pipelines.tables import calls as tables

pytestmark = pytest.mark.integration


@pytest.fixture
def production_shaped_env(monkeypatch, postgres_url, s3_endpoint, request):
    from tests.conftest import make_bucket

    dagster_db_url = request.getfixturevalue("second_postgres_url")
    bucket = make_bucket(s3_endpoint)
    monkeypatch.setenv("CM_WAREHOUSE_URL", postgres_url)
    monkeypatch.setenv("CM_STORAGE_URL", f"s3://{bucket}/cm")
    monkeypatch.setenv("CM_S3_ENDPOINT_URL", s3_endpoint)
    parsed = sa.engine.make_url(dagster_db_url)
    monkeypatch.setenv("CM_DAGSTER_STORAGE", "postgres")
    monkeypatch.setenv("CM_DAGSTER_PG_USER", parsed.username or "postgres")
    monkeypatch.setenv("CM_DAGSTER_PG_PASSWORD", parsed.password or "")
    monkeypatch.setenv("CM_DAGSTER_PG_HOST", parsed.host or "127.0.0.1")
    monkeypatch.setenv("CM_DAGSTER_PG_PORT", str(parsed.port or 5432))
    monkeypatch.setenv("CM_DAGSTER_PG_DB", parsed.database or "")
    return {"warehouse_url": postgres_url, "dagster_url": dagster_db_url}


def test_ingestion_on_postgresql_and_s3(production_shaped_env) -> None:
    from cm_pipelines.cli.project import generate, initialise
    from cm_pipelines.platform.instance import get_instance, run_job

    summary = initialise()
    assert summary["storage"].startswith("s3://")
    start = date(2026, 11, 2)
    world = generate(3, 120, 2, True, 2, start)
    instance = get_instance()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    for offset in range(2):
        day = (start + timedelta(days=offset)).isoformat()
        result = run_job("call_ingestion_job", instance=instance, partition_key=day)
        assert result.success
        # a second run of the same day leaves one copy
        assert run_job("call_ingestion_job", instance=instance, partition_key=day).success

    engine = sa.create_engine(production_shaped_env["warehouse_url"])
    with engine.connect() as connection:
        per_tenant = dict(
            connection.execute(
                sa.select(tables.calls.c.tenant_id, sa.func.count()).group_by(
                    tables.calls.c.tenant_id
                )
            ).all()
        )
        recordings = connection.execute(
            sa.select(sa.func.count()).select_from(tables.recordings)
        ).scalar_one()
        transcripts = connection.execute(
            sa.select(sa.func.count()).select_from(tables.transcripts)
        ).scalar_one()
    engine.dispose()
    assert per_tenant == world.calls_by_tenant
    assert recordings > 0 and transcripts > 0
    runs = instance.get_runs()
    assert len([run for run in runs if run.job_name == "call_ingestion_job"]) == 4
