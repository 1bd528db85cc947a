"""The delivery asset and job as Dagster runs them: settings from the environment only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from cm_pipelines.crm_delivery.assets import dsar_crm_deliveries
from cm_pipelines.definitions import defs
from cm_pipelines.resources.crm_connectors import CrmConnectorsResource
from cm_pipelines.tables.dsar import dsar_erasure_outbox
from tests.crm_delivery.conftest import TOKEN

CONTACT = "5123"


def _task(warehouse) -> int:
    with warehouse.begin() as connection:
        return connection.execute(
            sa.insert(dsar_erasure_outbox)
            .values(
                request_id="dsar-7",
                tenant_id="acme-au",
                recipient="hubspot",
                task="erase",
                record_refs=[CONTACT],
                status="pending",
                created_at=datetime.now(UTC) - timedelta(hours=1),
            )
            .returning(dsar_erasure_outbox.c.id)
        ).scalar_one()


def _run(local_resources) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [dsar_crm_deliveries],
        resources={**local_resources, "crm_connectors": CrmConnectorsResource()},
        raise_on_error=False,
    )


def test_the_asset_reads_its_credentials_from_the_environment(
    local_resources, hubspot, monkeypatch: pytest.MonkeyPatch
) -> None:
    hubspot.contacts = {CONTACT: {}}
    task_id = _task(local_resources["warehouse"])
    # nothing configured: the task waits, nothing is sent
    result = _run(local_resources)
    assert result.success and hubspot.received == []
    [materialization] = result.asset_materializations_for_node("dsar_crm_deliveries")
    assert materialization.metadata["no_connector"].value == 1

    monkeypatch.setenv("CM_CRM_HUBSPOT_API_URL", hubspot.url)
    monkeypatch.setenv("CM_CRM_HUBSPOT_TOKEN", "pat-wrong-token")
    result = _run(local_resources)
    assert not result.success  # bad credentials fail the run, so its alert names the CRM
    cause = result.get_step_failure_events()[0].event_specific_data.error.cause
    assert cause.cls_name == "CrmDeliveryFailed"
    assert "(401/403): hubspot;" in cause.message and "pat-wrong-token" not in cause.message

    monkeypatch.setenv("CM_CRM_HUBSPOT_TOKEN", TOKEN)
    monkeypatch.setenv("CM_CRM_RETRY_BASE_SECONDS", "1")
    with local_resources["warehouse"].begin() as connection:  # the auth backoff has passed
        connection.execute(sa.update(dsar_erasure_outbox).values(next_attempt_at=None))
    result = _run(local_resources)
    assert result.success and hubspot.contacts == {}
    [materialization] = result.asset_materializations_for_node("dsar_crm_deliveries")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["confirmed"] == 1 and metadata["confirmed_task_ids"] == [f"outbox:{task_id}"]
    assert CONTACT not in json.dumps(metadata) and TOKEN not in json.dumps(metadata)
    assert hubspot.received[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_the_job_and_its_schedule_are_declared_running() -> None:
    job = defs.resolve_job_def("crm_delivery_job")
    assert [key.to_user_string() for key in job.asset_layer.executable_asset_keys] == [
        "dsar_crm_deliveries"
    ]
    schedule = defs.resolve_schedule_def("crm_delivery_schedule")
    assert schedule.cron_schedule == "*/15 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
