"""Alerts out, freshness evaluated: the sensors that watch the platform.

* ``operations_run_failure_alerts``: every failed run of the code location (purges, registry
  refreshes, DSAR fulfilment, ...) becomes one alert; a run the purge guard refused is a
  tripped circuit breaker. A delivery that fails fails the tick, so it is tried again.
* ``operations_check_alert_sensor``: the latest evaluation of each watched check (freshness,
  DSAR deadlines, registry evidence, stuck CRM tasks, the audit chain); a new failed one
  becomes an alert, repeated only when the situation changes or a day has passed.
* ``operations_freshness_sensor``: Dagster's evaluator of the freshness checks.
"""

from __future__ import annotations

import warnings

import dagster as dg

from cm_pipelines.domain.operations.alerts import (
    check_failure_alert,
    due_for_sending,
    run_failure_alert,
)
from cm_pipelines.operations.alert_sources import (
    failed_check,
    failed_run,
    latest_evaluations,
    read_cursor,
    utc_now,
    write_cursor,
)
from cm_pipelines.operations.checks import FRESHNESS_CHECK, freshness_checks
from cm_pipelines.operations.jobs import WATCH_CHECKS
from cm_pipelines.platform.automation import sensor_status
from cm_pipelines.resources.alerts import AlertDeliveryResource


class AlertNotDelivered(RuntimeError):
    """A configured channel did not take the alert; the tick fails and is tried again."""


WATCHED_CHECKS = (
    *WATCH_CHECKS,
    dg.AssetCheckKey(dg.AssetKey("audit_chain"), "audit_chain_intact"),
    # a placed call that bypassed the do-not-call workflow (post-call audit of a call day)
    dg.AssetCheckKey(dg.AssetKey("dncr_post_call_audit"), "dncr_post_call_violations"),
    # an internal do-not-call entry not in effect by its honour-by deadline (47 CFR 64.1200(d))
    dg.AssetCheckKey(dg.AssetKey("dncr_internal_list"), "dncr_internal_list_honoured_in_time"),
    *(
        dg.AssetCheckKey(key, FRESHNESS_CHECK)
        for checks in freshness_checks
        for key in {check_key.asset_key for check_key in checks.check_keys}
    ),
)


@dg.run_failure_sensor(
    name="operations_run_failure_alerts",
    minimum_interval_seconds=60,
    default_status=sensor_status(),
    description="Alerts (email/Slack: ids, counts, links) on every failed run; a purge the "
    "guard refused is reported as a tripped circuit breaker.",
)
def operations_run_failure_alerts(
    context: dg.RunFailureSensorContext, alerts: AlertDeliveryResource
) -> None:
    alert = run_failure_alert(failed_run(context.instance, context.dagster_run), alerts.base_url())
    delivery = alerts.deliver(alert)
    if delivery.failed:
        raise AlertNotDelivered(
            f"alert {alert.kind} for run {context.dagster_run.run_id} not delivered by "
            f"{', '.join(sorted(delivery.failed))} ({', '.join(delivery.failed.values())})"
        )
    where = ", ".join(delivery.sent) or "no channel configured (CM_ALERT_SMTP_HOST)"
    context.log.info(f"alert {alert.kind} for run {context.dagster_run.run_id}: {where}")


@dg.sensor(
    name="operations_check_alert_sensor",
    minimum_interval_seconds=120,
    default_status=sensor_status(),
    description="Alerts when a watched check fails: freshness, DSAR deadlines, registry "
    "evidence, stuck CRM tasks, the audit chain, post-call do-not-call violations. Repeated only when the situation changes or "
    "after a day.",
)
def operations_check_alert_sensor(
    context: dg.SensorEvaluationContext, alerts: AlertDeliveryResource
) -> dg.SkipReason:
    seen, sent = read_cursor(context.cursor)
    now = utc_now()
    reported = []
    for label, record in sorted(latest_evaluations(context.instance, WATCHED_CHECKS).items()):
        if record.id <= seen.get(label, 0):
            continue
        failure = failed_check(record)
        if failure is not None:
            alert = check_failure_alert(failure, alerts.base_url())
            if due_for_sending(alert, sent, now):
                delivery = alerts.deliver(alert)
                if delivery.failed:
                    context.log.warning(
                        f"alert {alert.kind} for {label} not delivered by "
                        f"{', '.join(sorted(delivery.failed))}; tried again next tick"
                    )
                    continue  # not marked seen: the next tick tries again
                sent[alert.fingerprint] = now.isoformat()
                reported.append(f"{alert.kind} ({', '.join(delivery.sent) or 'no channel'})")
        seen[label] = record.id
    context.update_cursor(write_cursor(seen, sent, now))
    if not reported:
        return dg.SkipReason("no new failed check to report")
    return dg.SkipReason(f"alerted: {'; '.join(reported)}")


with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)  # why: cm_pipelines.operations.checks
    operations_freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        name="operations_freshness_sensor",
        default_status=sensor_status(),
    )
