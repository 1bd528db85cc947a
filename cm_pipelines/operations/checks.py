"""Freshness checks: an asset its schedule stopped refreshing shows as a failing check.

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
from datetime import timedelta

import dagster as dg

from cm_pipelines.platform.partitions import PLATFORM_TIMEZONE

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
