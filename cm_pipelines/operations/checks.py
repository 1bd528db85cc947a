"""Freshness checks: an asset its schedule stopped refreshing shows as a failing check; and
``dsar_crm_tasks_delivered``: a DSAR task for a CRM left pending past its deadline.

Each deadline sits after the schedule that refreshes the asset (UTC, ``PLATFORM_TIMEZONE``)
with room for the run; ``operations_freshness_sensor`` evaluates them without any run of the
asset itself, so a schedule switched off or a daemon that died shows in the UI and alerts.

Dagster 1.13 marks these check builders as superseded by ``FreshnessPolicy``; they are kept
on purpose: a freshness *check* has an evaluation history in the UI and is read by
``operations_check_alert_sensor`` like every other watched check, where a policy's state is
not an asset check and would need an alert path of its own.
"""

from __future__ import annotations

import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg

from cm_pipelines.domain.operations.alerts import outbox_label, stuck_tasks
from cm_pipelines.operations.crm_tasks import dead_letter_outbox_tasks, pending_outbox_tasks
from cm_pipelines.platform import settings
from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE
from cm_pipelines.resources.warehouse import WarehouseResource

FRESHNESS_CHECK = "freshness_check"

# asset -> (deadline cron, how long before the deadline its refresh may have landed)
FRESHNESS = {
    # retention_states_schedule 05:00: by 07:00, a materialization since 05:00
    "retention_states": ("0 7 * * *", timedelta(hours=2)),
    # trust_daily_schedule 06:30: by 08:30, the chain verified and anchored since 06:30
    "audit_chain": ("30 8 * * *", timedelta(hours=2)),
}
HOURLY = {
    # dsar_sla_schedule every hour at :05: never more than two hours old
    "dsar_sla": timedelta(hours=2),
}


def _freshness_checks() -> list[dg.AssetChecksDefinition]:
    built: list[dg.AssetChecksDefinition] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)  # see the module docstring
        for asset, (cron, lower_bound) in FRESHNESS.items():
            built += dg.build_last_update_freshness_checks(
                assets=[asset],
                deadline_cron=cron,
                lower_bound_delta=lower_bound,
                timezone=PLATFORM_TIMEZONE,
                severity=dg.AssetCheckSeverity.ERROR,
            )
        for asset, lower_bound in HOURLY.items():
            built += dg.build_last_update_freshness_checks(
                assets=[asset], lower_bound_delta=lower_bound, severity=dg.AssetCheckSeverity.ERROR
            )
    return built


freshness_checks = _freshness_checks()


@dg.asset_check(
    asset="dsar_sla",
    description="Fails when a DSAR task for a CRM (erase, rectify, restrict) is still pending "
    "CM_ALERT_CRM_TASK_HOURS (default 24) hours after it was written, or was dead-lettered by "
    "delivery: the subject's records in that CRM are not erased or corrected yet.",
)
def dsar_crm_tasks_delivered(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    after_hours = settings.alert_crm_task_hours()
    now = datetime.now(UTC)
    pending = pending_outbox_tasks(warehouse)
    stuck = stuck_tasks(pending, now, after_hours)
    dead = sorted(dead_letter_outbox_tasks(warehouse), key=lambda task: task.task_id)
    failing = [*stuck, *dead]
    return dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(stuck)} CRM task(s) pending past {after_hours} h"
        + (f", {len(dead)} dead-lettered" if dead else ""),
        metadata={
            "stuck": len(stuck),
            "pending": len(pending),
            "dead_letter": len(dead),
            "after_hours": after_hours,
            "stuck_task_ids": dg.MetadataValue.json([outbox_label(t.task_id) for t in stuck]),
            "dead_letter_task_ids": dg.MetadataValue.json([outbox_label(t.task_id) for t in dead]),
            "stuck_request_ids": dg.MetadataValue.json(
                sorted({task.request_id for task in failing})
            ),
            "stuck_by_recipient": dg.MetadataValue.json(
                dict(Counter(task.recipient for task in failing))
            ),
            "stuck_by_tenant": dg.MetadataValue.json(dict(Counter(t.tenant_id for t in failing))),
        },
    )
