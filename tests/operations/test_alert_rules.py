"""What an alert says and when one is due: counts, ids and links, never personal data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cm_pipelines.domain.operations.alerts import (
    Alert,
    Deadline,
    FailedCheck,
    FailedRun,
    OutboxTask,
    RegistryInForce,
    assert_clean,
    check_failure_alert,
    days_until_expiry,
    deadlines_ahead,
    due_for_sending,
    one_line,
    registries_expiring,
    run_failure_alert,
    stuck_tasks,
)
from cm_pipelines.domain.redaction import PersonalDataError, find_personal_data

BASE = "https://dagster.cm.test/"


def test_a_refused_purge_is_a_tripped_breaker_with_its_tenant_and_a_link() -> None:
    run = FailedRun(
        job_name="retention_purge_job",
        run_id="0f1e2d3c-aaaa-bbbb-cccc-000000000001",
        tags={"cm/exclusive_tenant": "acme-au", "cm/trigger": "schedule"},
        failed_steps=("retention_purge_execution",),
        failed_checks=("retention_purge_guard",),
        reason="circuit breaker: acme-au would lose 57% of its artefacts (limit 20%)",
    )
    alert = run_failure_alert(run, BASE)
    assert alert.kind == "breaker_tripped"
    assert alert.subject == "[cm] circuit breaker tripped: retention_purge_job (tenant acme-au)"
    assert "reason: circuit breaker: acme-au would lose 57% of its artefacts (limit 20%)" in (
        alert.lines
    )
    assert alert.links == ("https://dagster.cm.test/runs/0f1e2d3c-aaaa-bbbb-cccc-000000000001",)
    assert_clean(alert)


def test_other_failures_are_failed_runs_and_tags_outside_the_safe_list_are_dropped() -> None:
    run = FailedRun(
        job_name="dsar_fulfillment_job",
        run_id="r-2",
        tags={"cm/dsar_request_id": "dsar-1", "cm/note": "call +61 491 570 156", "owner": "x"},
        failed_steps=("dsar_execute",),
        reason="could not reach +61491570156 or jo@example.com\nTraceback ...",
    )
    alert = run_failure_alert(run, BASE)
    assert alert.kind == "run_failed"
    text = alert.subject + alert.text()
    assert "cm/dsar_request_id: dsar-1" in text
    assert "cm/note" not in text and "owner" not in text
    assert find_personal_data(text) == []
    assert "Traceback" not in text  # one line of the reason only
    assert_clean(alert)


def test_one_line_redacts_and_cuts() -> None:
    assert one_line(None) == ""
    assert "0491" not in one_line("number 0491 570 156 refused\nsecond line")
    assert len(one_line("x" * 500)) == 200


def test_a_failed_check_lists_counts_ids_and_links_to_the_check_and_its_run() -> None:
    check = FailedCheck(
        asset_key="dsar_sla",
        check_name="dsar_deadlines_ahead",
        severity="WARN",
        run_id="r-9",
        ids=tuple(f"dsar-{n}" for n in range(25)),
        counts={"due_soon": 25, "overdue": 0},
        description="25 open request(s) due within 7 day(s)",
    )
    alert = check_failure_alert(check, BASE)
    assert alert.kind == "dsar_deadline"
    assert alert.subject == (
        "[cm] dsar deadline: dsar_sla:dsar_deadlines_ahead (25 open request(s) due within 7 day(s))"
    )
    assert "due_soon: 25" in alert.lines and "overdue: 0" in alert.lines
    assert "ids: " + ", ".join(f"dsar-{n}" for n in range(20)) + " (+5 more)" in alert.lines
    assert alert.links == (
        "https://dagster.cm.test/assets/dsar_sla?view=checks",
        "https://dagster.cm.test/runs/r-9",
    )


def test_check_kinds() -> None:
    def kind(name: str) -> str:
        return check_failure_alert(FailedCheck("a", name, "ERROR", None), BASE).kind

    assert kind("freshness_check") == "stale_asset"
    assert kind("audit_chain_intact") == "audit_chain_broken"
    assert kind("registry_evidence_in_force") == "registry_expiry"
    assert kind("dsar_none_overdue") == "dsar_overdue"
    assert kind("dsar_crm_tasks_delivered") == "crm_task_stuck"
    assert kind("dsar_acknowledged_in_time") == "dsar_acknowledgement_missed"
    assert kind("dncr_internal_list_honoured_in_time") == "dnc_opt_out_late"
    assert kind("something_else") == "check_failed"


def test_the_same_situation_is_one_fingerprint_a_changed_one_is_another() -> None:
    def alert(ids: tuple[str, ...]) -> Alert:
        return check_failure_alert(FailedCheck("dsar_sla", "x", "WARN", "r", ids=ids), BASE)

    assert alert(("a", "b")).fingerprint == alert(("b", "a")).fingerprint
    assert alert(("a",)).fingerprint != alert(("a", "b")).fingerprint


def test_repeats_wait_a_day() -> None:
    alert = check_failure_alert(FailedCheck("dsar_sla", "x", "WARN", "r"), BASE)
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert due_for_sending(alert, {}, now)
    sent = {alert.fingerprint: (now - timedelta(hours=23)).isoformat()}
    assert not due_for_sending(alert, sent, now)
    sent = {alert.fingerprint: (now - timedelta(hours=24)).isoformat()}
    assert due_for_sending(alert, sent, now)


def test_deadlines_ahead_splits_overdue_and_due_within_the_window() -> None:
    deadlines = [Deadline(f"d{n}", "t", left) for n, left in enumerate([-2, 0, 7, 8, 3])]
    overdue, soon = deadlines_ahead(deadlines, 7)
    assert [d.request_id for d in overdue] == ["d0"]
    assert [d.request_id for d in soon] == ["d1", "d4", "d2"]


def test_registry_evidence_is_valid_for_its_days_counted_from_its_data_day() -> None:
    today = date(2026, 3, 31)

    def registry(days_old: int | None, validity: int = 30) -> RegistryInForce:
        data = None if days_old is None else today - timedelta(days=days_old)
        return RegistryInForce("r", validity, data, today)

    assert days_until_expiry(registry(0)) == 29
    assert days_until_expiry(registry(29)) == 0  # last valid day
    assert days_until_expiry(registry(30)) == -1
    assert days_until_expiry(registry(None)) is None
    registries = [
        RegistryInForce("au", 30, today - timedelta(days=26), today),  # 3 days left
        RegistryInForce("sg", 21, today - timedelta(days=21), today),  # expired
        RegistryInForce("us", 31, today, today),  # 30 days left
        RegistryInForce("ca", 31, None, today),  # never loaded
    ]
    assert registries_expiring(registries, 5) == (["ca", "sg"], ["au"])


def test_an_alert_holding_a_number_or_address_is_refused() -> None:
    for leaked in ("+61491570156", "jo@example.com"):
        with pytest.raises(PersonalDataError):
            assert_clean(Alert("run_failed", "s", (f"reason: {leaked}",)))


def test_a_task_is_stuck_only_once_pending_longer_than_its_hours() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)

    def task(task_id: int, hours_ago: float) -> OutboxTask:
        written = (now - timedelta(hours=hours_ago)).replace(tzinfo=None)  # as SQLite returns it
        return OutboxTask(task_id, f"dsar-{task_id}", "acme-au", "hubspot", written)

    tasks = [task(1, 23.9), task(2, 24), task(3, 24.1), task(4, 90)]
    assert [t.task_id for t in stuck_tasks(tasks, now, after_hours=24)] == [4, 3]  # oldest first
    assert stuck_tasks(tasks, now, after_hours=100) == []
