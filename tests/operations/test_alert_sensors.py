"""The sensors that send alerts, run against real runs in a Dagster instance and a real SMTP
server: a purge refused by its circuit breaker, DSAR deadlines and registry evidence found by
the hourly watch, an asset whose schedule stopped. Every message is scanned for the personal
data the test put in the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.events import DagsterEventType

from cm_pipelines.definitions import defs
from cm_pipelines.domain.dsar.requests import validate_request
from cm_pipelines.domain.redaction import find_personal_data
from cm_pipelines.dsar.request_changes import submit_request, verify_request
from cm_pipelines.operations.checks import freshness_checks
from cm_pipelines.operations.sensors import (
    operations_check_alert_sensor,
    operations_run_failure_alerts,
)
from cm_pipelines.platform import settings
from cm_pipelines.resources import AlertDeliveryResource, PlatformConfigResource, WarehouseResource
from cm_pipelines.tables.dsar import dsar_erasure_outbox
from tests.operations.conftest import UI_BASE_URL
from tests.retention.retention_helpers import World, purge_config, run_purge, write_tenants

SUBJECT_EMAIL = "mia.subject@example.com"
CRM_RECORD_ID = "hs-contact-mia-7731"


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def _check_tick(instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"alerts": AlertDeliveryResource()}
    )
    outcome = operations_check_alert_sensor(context)
    return outcome, context.cursor


def _no_personal_data(smtp_sink, *values: str) -> None:
    for message, body in zip(smtp_sink.messages, smtp_sink.bodies(), strict=True):
        text = message["Subject"] + "\n" + body
        assert find_personal_data(text) == [], text
        for value in values:
            assert value not in text


def test_a_purge_refused_by_its_breaker_is_alerted_as_a_tripped_breaker(
    smtp_sink, instance, sqlite_warehouse, local_store, tmp_path: Path
) -> None:
    resources = {
        "warehouse": sqlite_warehouse,
        "object_store": local_store,
        "platform_config": write_tenants(tmp_path / "tenants.yaml"),
    }
    world = World(sqlite_warehouse, local_store)
    emails = [f"p{n}@example.com" for n in range(4)]
    for address in emails:
        world.add_call("acme-au", 45, crm_email=address, src="+61491577001")
    world.add_call("acme-au", 2)
    refused = run_purge(resources, purge_config(), instance=instance)
    assert not refused.success
    [failure] = [
        record.dagster_event
        for record in instance.all_logs(refused.run_id, of_type=DagsterEventType.RUN_FAILURE)
    ]
    context = dg.build_run_status_sensor_context(
        sensor_name="operations_run_failure_alerts",
        dagster_instance=instance,
        dagster_run=refused.dagster_run,
        dagster_event=failure,
        resources={"alerts": AlertDeliveryResource()},
    ).for_run_failure()
    operations_run_failure_alerts(context)

    [message] = smtp_sink.messages
    assert message["Subject"] == "[cm] circuit breaker tripped: retention_purge_job"
    body = smtp_sink.bodies()[0]
    assert f"{UI_BASE_URL}/runs/{refused.run_id}" in body
    assert "failed checks: retention_purge_guard" in body
    reason = next(line for line in body.splitlines() if line.startswith("reason: "))
    assert "acme-au" in reason and "%" in reason
    _no_personal_data(smtp_sink, *emails, "+61491577001", "491577001")


def _submit_due_in(days_left: int, tenant_id: str = "acme-au") -> str:
    """A verified AU request (30 days) received so that ``days_left`` days remain."""
    tenants = PlatformConfigResource().tenants_by_id()
    received = datetime.now(UTC) - timedelta(days=30 - days_left)
    validated = validate_request(
        tenant_id=tenant_id,
        request_type="access",
        identifiers=[("email", SUBJECT_EMAIL)],
        tenants=tenants,
        received_at=received,
    )
    with WarehouseResource().begin() as connection:
        request_id = submit_request(
            connection,
            validated,
            tenant=tenants[tenant_id],
            hash_key=settings.identifier_hash_key(),
            submitted_by="test",
        )
        verify_request(connection, request_id, method="id_document", verified_by="tester")
    return request_id


def _watch(instance: dg.DagsterInstance) -> None:
    result = defs.resolve_job_def("operations_watch_job").execute_in_process(instance=instance)
    assert result.success
    assert {e.check_name for e in result.get_asset_check_evaluations()} == {
        "dsar_deadlines_ahead",
        "dsar_none_overdue",
        "dsar_acknowledged_in_time",
        "registry_evidence_in_force",
        "dsar_crm_tasks_delivered",
        "support_reads_within_grants",
    }


def test_the_watch_alerts_deadlines_and_registry_evidence_once_per_situation(
    smtp_sink, instance
) -> None:
    WarehouseResource().upgrade()
    first = _submit_due_in(3)
    _watch(instance)
    _, cursor = _check_tick(instance, None)
    subjects = sorted(m["Subject"] for m in smtp_sink.messages)
    assert subjects == [
        "[cm] dsar deadline: dsar_sla:dsar_deadlines_ahead (1 open request(s) due within 7 day(s))",
        "[cm] registry expiry: dncr_registry_promotion:registry_evidence_in_force "
        "(3 registry(ies) expired or never loaded, 0 expiring within 5 day(s))",
    ]
    bodies = "\n".join(smtp_sink.bodies())
    assert f"ids: {first}" in bodies
    assert "ids: au_acma, sg_dnc, us_ftc" in bodies  # never loaded: expired
    assert f"{UI_BASE_URL}/assets/dsar_sla?view=checks" in bodies

    # the same situation an hour later: evaluated again, not sent again
    _watch(instance)
    outcome, cursor = _check_tick(instance, cursor)
    assert len(smtp_sink.envelopes) == 2
    assert "no new failed check" in outcome.skip_message

    # a second request due soon changes the situation: one new alert naming both
    second = _submit_due_in(1)
    _watch(instance)
    _check_tick(instance, cursor)
    assert len(smtp_sink.envelopes) == 3
    assert f"ids: {first}, {second}" in smtp_sink.bodies()[-1] or (
        f"ids: {second}, {first}" in smtp_sink.bodies()[-1]
    )
    _no_personal_data(smtp_sink, SUBJECT_EMAIL)


def test_a_delivery_that_fails_is_tried_again_on_the_next_tick(
    smtp_sink, instance, monkeypatch
) -> None:
    WarehouseResource().upgrade()
    _submit_due_in(2)
    _watch(instance)
    monkeypatch.setenv("CM_ALERT_SMTP_PORT", "1")  # nothing listens there
    _, cursor = _check_tick(instance, None)
    assert smtp_sink.envelopes == []
    monkeypatch.setenv("CM_ALERT_SMTP_PORT", str(smtp_sink.port))
    _check_tick(instance, cursor)
    assert len(smtp_sink.envelopes) == 2  # the deadline and the registries, delivered late


def test_an_asset_its_schedule_stopped_refreshing_fails_freshness_and_is_alerted(
    smtp_sink, instance
) -> None:
    WarehouseResource().upgrade()
    keys = [key for checks in freshness_checks for key in checks.check_keys]
    freshness_job = dg.define_asset_job("freshness_only", selection=dg.AssetSelection.checks(*keys))
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[freshness_job])).resolve_job_def(
        "freshness_only"
    )
    assert job.execute_in_process(instance=instance).success
    _check_tick(instance, None)
    stale = sorted(m["Subject"] for m in smtp_sink.messages)
    never = "(Asset has never been observed/materialized.)"
    assert stale == [
        f"[cm] stale asset: audit_chain:freshness_check {never}",
        f"[cm] stale asset: dsar_sla:freshness_check {never}",
        f"[cm] stale asset: retention_states:freshness_check {never}",
    ]

    # the hourly SLA run happens again: its freshness check passes
    assert defs.resolve_job_def("dsar_sla_job").execute_in_process(instance=instance).success
    assert job.execute_in_process(instance=instance).success
    evaluations = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("dsar_sla"), "freshness_check")]
    )
    assert [r.status.value for r in evaluations.values()] == ["SUCCEEDED"]


def _crm_task(request_id: str, hours_ago: float, recipient: str = "hubspot") -> int:
    """An outbox task as erasure writes it, naming the subject's CRM records."""
    with WarehouseResource().begin() as connection:
        return connection.execute(
            sa.insert(dsar_erasure_outbox)
            .values(
                request_id=request_id,
                tenant_id="acme-au",
                recipient=recipient,
                task="erase",
                record_refs=[CRM_RECORD_ID],
                status="pending",
                created_at=datetime.now(UTC) - timedelta(hours=hours_ago),
            )
            .returning(dsar_erasure_outbox.c.id)
        ).scalar_one()


def _crm_alerts(smtp_sink) -> list[tuple[str, str]]:
    return [
        (message["Subject"], body)
        for message, body in zip(smtp_sink.messages, smtp_sink.bodies(), strict=True)
        if "crm task stuck" in message["Subject"]
    ]


def test_a_crm_task_pending_past_its_hours_fails_the_watch_and_is_alerted(
    smtp_sink, instance
) -> None:
    WarehouseResource().upgrade()
    request_id = _submit_due_in(20)
    fresh = _crm_task(request_id, hours_ago=1, recipient="salesforce")
    _watch(instance)
    [evaluation] = _evaluations(instance, "dsar_crm_tasks_delivered")
    assert evaluation.passed  # written an hour ago: within its 24 hours
    _, cursor = _check_tick(instance, None)
    assert _crm_alerts(smtp_sink) == []

    stuck = _crm_task(request_id, hours_ago=30)
    _watch(instance)
    [evaluation] = _evaluations(instance, "dsar_crm_tasks_delivered")
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["stuck"].value == 1 and evaluation.metadata["pending"].value == 2
    _check_tick(instance, cursor)
    [(subject, body)] = _crm_alerts(smtp_sink)
    assert subject == (
        "[cm] crm task stuck: dsar_sla:dsar_crm_tasks_delivered (1 CRM task(s) pending past 24 h)"
    )
    assert f"outbox:{stuck}" in body and request_id in body and f"outbox:{fresh}" not in body
    assert "stuck: 1" in body and "pending: 2" in body
    assert f"{UI_BASE_URL}/assets/dsar_sla?view=checks" in body
    _no_personal_data(smtp_sink, SUBJECT_EMAIL, CRM_RECORD_ID)


def test_the_hours_a_crm_task_may_wait_are_configurable(smtp_sink, instance, monkeypatch) -> None:
    WarehouseResource().upgrade()
    _crm_task(_submit_due_in(20), hours_ago=3)
    monkeypatch.setenv("CM_ALERT_CRM_TASK_HOURS", "2")
    _watch(instance)
    [evaluation] = _evaluations(instance, "dsar_crm_tasks_delivered")
    assert not evaluation.passed and evaluation.metadata["after_hours"].value == 2
    monkeypatch.setenv("CM_ALERT_CRM_TASK_HOURS", "two")
    result = defs.resolve_job_def("operations_watch_job").execute_in_process(
        instance=instance, raise_on_error=False
    )
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    assert "must be a whole number of hours" in error.message + (error.cause.message or "")


def _evaluations(instance: dg.DagsterInstance, check_name: str) -> list[dg.AssetCheckEvaluation]:
    """The latest evaluation of a dsar_sla check, as the alert sensor reads it."""
    key = dg.AssetCheckKey(dg.AssetKey("dsar_sla"), check_name)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])
    return [
        record.event.dagster_event.event_specific_data
        for record in latest.values()
        if record.event is not None and record.event.dagster_event is not None
    ]
