"""The post-call audit job on temp SQLite: a call day's outbound campaign calls against the
evidence stored for them; violations stored with keyed hashes, counted per tenant, its check
failing, and the operations alert sensor seeing the failure."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.dncr.post_call_assets import (
    POST_CALL_CHECK,
    dncr_post_call_audit,
    dncr_post_call_audit_job,
    dncr_post_call_audit_schedule,
)
from cm_pipelines.dncr.post_call_audit import open_violations
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.operations.alert_sources import failed_check, latest_evaluations
from cm_pipelines.operations.sensors import WATCHED_CHECKS
from cm_pipelines.platform.settings import identifier_hash_key
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as tables

DAY = date(2026, 11, 24)
CLEAN, BLOCKED, UNWASHED, LATE = "+12125550101", "+12125550102", "+12125550103", "+12125550104"


def _call(call_id: str, dst: str, local_hms: str, **overrides: Any) -> dict[str, Any]:
    started = datetime.fromisoformat(f"{DAY.isoformat()} {local_hms}")
    return {
        "tenant_id": "beta-us",
        "call_id": call_id,
        "partition_date": DAY,
        "call_date": DAY,
        "started_at": started,
        "ended_at": started + timedelta(minutes=2),
        "duration_s": 120,
        "billsec_s": 100,
        "disposition": "ANSWERED",
        "direction": "outbound",
        "src_kind": "extension",
        "dst_kind": "e164",
        "dst_e164": dst,
        "campaign_id": "solar-spring",
        "source_file": "landing/cdr/beta-us/x/Master.csv",
        "source_line": 1,
        **overrides,
    }


def _wash(key: bytes, e164: str, decision: str) -> dict[str, Any]:
    return {
        "tenant_id": "beta-us",
        "campaign_id": "solar-spring",
        "e164": e164,
        "e164_hash": keyed_hash(e164, key),
        "decision": decision,
        "reason": "not_registered" if decision == "allowed" else "registry",
        "registry_id": "us_ftc",
        "registry_version": "v-2026-11-20",
        "washed_at": datetime(2026, 11, 20, 12, tzinfo=UTC),
        "valid_until": datetime(2026, 12, 20, 12, tzinfo=UTC),
    }


def _seed(warehouse) -> None:
    key = identifier_hash_key()
    with warehouse.begin() as connection:
        connection.execute(
            sa.insert(call_tables.calls),
            [
                _call("c-clean", CLEAN, "10:00:00"),
                _call("c-blocked", BLOCKED, "11:00:00"),
                _call("c-unwashed", UNWASHED, "12:00:00"),
                _call("c-late", LATE, "21:00:00"),  # 21:00 New York: the window has closed
                _call("c-manual", UNWASHED, "13:00:00", campaign_id=None),  # not telemarketing
                _call("c-inbound", UNWASHED, "14:00:00", direction="inbound"),
            ],
        )
        connection.execute(
            sa.insert(tables.wash_results),
            [_wash(key, CLEAN, "allowed"), _wash(key, BLOCKED, "blocked")],
        )
        connection.execute(  # a pre-call check allowed LATE; the window still applies
            sa.insert(tables.dncr_check_records).values(
                tenant_id="beta-us",
                e164_hash=keyed_hash(LATE, key),
                decision="allowed",
                reason="not_registered",
                registry_id="us_ftc",
                registry_version="v-2026-11-20",
                valid_until=datetime(2026, 12, 1, tzinfo=UTC),
                checked_at=datetime(2026, 11, 24, 14, tzinfo=UTC),
                channel="cli",
                checked_by="agent-7",
            )
        )


def _materialize(resources, instance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [dncr_post_call_audit],
        partition_key=DAY.isoformat(),
        resources={k: resources[k] for k in ("warehouse", "platform_config")},
        instance=instance,
        raise_on_error=False,
    )


def test_a_call_day_is_audited_violations_stored_and_the_check_alerts(local_resources) -> None:
    warehouse = local_resources["warehouse"]
    _seed(warehouse)
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(local_resources, instance)
    assert result.success
    [materialization] = result.asset_materializations_for_node("dncr_post_call_audit")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["beta-us/calls_audited"] == 4
    assert metadata["beta-us/violations"] == 3
    assert metadata["beta-us/blocked_number"] == 1
    assert metadata["beta-us/no_evidence"] == 1
    assert metadata["beta-us/outside_calling_window"] == 1
    assert metadata["acme-au/calls_audited"] == 0

    with warehouse.connect() as connection:
        stored = [
            dict(row._mapping)
            for row in connection.execute(sa.select(tables.dncr_post_call_violations))
        ]
        assert open_violations(connection) == {"beta-us": 3}
    assert {(row["call_id"], row["reason"]) for row in stored} == {
        ("c-blocked", "blocked_number"),
        ("c-unwashed", "no_evidence"),
        ("c-late", "outside_calling_window"),
    }
    from cm_pipelines.trust.overview import collect_overviews

    tenants = local_resources["platform_config"].tenants()
    with warehouse.connect() as connection:
        overviews, missing = collect_overviews(connection, tenants, {}, DAY)
    assert "post_call_audit" not in missing
    by_tenant = {o.tenant_id: o.post_call_violations for o in overviews}
    assert by_tenant["beta-us"] == {
        "blocked_number": 1,
        "no_evidence": 1,
        "outside_calling_window": 1,
    }
    assert by_tenant["acme-au"] == {}
    blocked = next(row for row in stored if row["call_id"] == "c-blocked")
    assert blocked["evidence_source"] == "wash" and blocked["registry_id"] == "us_ftc"
    stored_text = json.dumps(stored, default=str) + json.dumps(metadata, default=str)
    for number in (CLEAN, BLOCKED, UNWASHED, LATE):
        assert number not in stored_text and number[1:] not in stored_text

    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == POST_CALL_CHECK and evaluation.passed is False
    records = latest_evaluations(instance, WATCHED_CHECKS)
    failure = failed_check(records[f"dncr_post_call_audit:{POST_CALL_CHECK}"])
    assert failure is not None
    assert "beta-us:c-blocked" in failure.ids and failure.counts["violations"] == 3
    assert "+1212" not in json.dumps(failure.__dict__, default=str)

    # Re-running the day ends in the same state; fixing the evidence clears it.
    assert _materialize(local_resources, instance).success
    with warehouse.begin() as connection:
        assert open_violations(connection) == {"beta-us": 3}
        connection.execute(
            sa.update(call_tables.calls)
            .where(call_tables.calls.c.call_id.in_(["c-blocked", "c-unwashed", "c-late"]))
            .values(campaign_id=None)
        )
    again = _materialize(local_resources, instance)
    assert again.get_asset_check_evaluations()[0].passed is True
    with warehouse.connect() as connection:
        assert open_violations(connection) == {}


def test_the_schedule_audits_the_previous_call_day_once() -> None:
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 25, 4, 45, tzinfo=UTC)
    )
    request = dncr_post_call_audit_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2026-11-24"
    assert request.run_key == "post-call-audit-2026-11-24"
    assert dncr_post_call_audit_job.partitions_def is not None
