"""The hourly watch: the checks whose verdict changes with the clock, not with a run."""

from __future__ import annotations

import dagster as dg

WATCH_CHECKS = (
    # an open DSAR due within CM_ALERT_DSAR_DUE_DAYS, and one overdue
    dg.AssetCheckKey(dg.AssetKey("dsar_sla"), "dsar_deadlines_ahead"),
    dg.AssetCheckKey(dg.AssetKey("dsar_sla"), "dsar_none_overdue"),
    # a CCPA request not acknowledged within 10 business days of receipt
    dg.AssetCheckKey(dg.AssetKey("dsar_sla"), "dsar_acknowledged_in_time"),
    # registry evidence within CM_ALERT_REGISTRY_EXPIRY_DAYS of expiry, or expired
    dg.AssetCheckKey(dg.AssetKey("dncr_registry_promotion"), "registry_evidence_in_force"),
    # a DSAR task for a CRM still pending CM_ALERT_CRM_TASK_HOURS after it was written
    dg.AssetCheckKey(dg.AssetKey("dsar_sla"), "dsar_crm_tasks_delivered"),
    # a support read outside its grant, or a grant longer than CM_SUPPORT_ACCESS_MAX_HOURS
    dg.AssetCheckKey(dg.AssetKey("audit_chain"), "support_reads_within_grants"),
)

operations_watch_job = dg.define_asset_job(
    name="operations_watch_job",
    selection=dg.AssetSelection.checks(*WATCH_CHECKS),
    description="Evaluate the deadline, registry-evidence, stuck-CRM-task and support-access checks (nothing is "
    "materialized); "
    "a failed check is alerted by operations_check_alert_sensor.",
    tags={"cm/capability": "operations"},
)
