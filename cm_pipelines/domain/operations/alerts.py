"""Alerts to the people who keep the platform's promises: what each one says and when one is due.

An alert carries counts, ids and links only: job names, run ids, request ids, registry and
tenant ids, check names and a link into the Dagster UI. Free text that comes from a run (a
failure reason) is redacted before it is used, and ``assert_clean`` refuses an alert holding a
phone number or an email address before anything is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from cm_pipelines.domain.redaction import assert_no_personal_data, redact_text

MAX_IDS = 20
"""Ids listed in one alert; the count says how many more there are."""
MAX_REASON = 200

# Run tags an alert may repeat: ids, never values (a request tag is a request id).
SAFE_RUN_TAGS = (
    "cm/exclusive_tenant",
    "cm/dsar_request_id",
    "cm/registry",
    "cm/trigger",
    "dagster/partition",
    "dagster/schedule_name",
    "dagster/sensor_name",
)


@dataclass(frozen=True)
class Alert:
    """One message: ``kind`` (what happened), a subject line, body lines and links.

    ``fingerprint`` names the situation, not the message: the same DSARs due soon give the same
    fingerprint, so a watcher repeats an alert only when the situation changes or a day passed.
    """

    kind: str
    subject: str
    lines: tuple[str, ...]
    links: tuple[str, ...] = ()
    fingerprint: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        body = list(self.lines)
        if self.links:
            body += ["", *self.links]
        return "\n".join(body) + "\n"


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _ids(values: Sequence[str]) -> str:
    shown = ", ".join(values[:MAX_IDS])
    more = len(values) - MAX_IDS
    return f"{shown} (+{more} more)" if more > 0 else shown


def one_line(reason: str | None) -> str:
    """The first line of a free-text reason, redacted and cut short (run failure messages)."""
    first = (reason or "").strip().splitlines()[0] if (reason or "").strip() else ""
    cleaned = redact_text(first)
    return cleaned if len(cleaned) <= MAX_REASON else cleaned[: MAX_REASON - 1] + "…"


def run_url(ui_base_url: str, run_id: str) -> str:
    return f"{ui_base_url.rstrip('/')}/runs/{quote(run_id)}"


def asset_checks_url(ui_base_url: str, asset_key: str) -> str:
    return f"{ui_base_url.rstrip('/')}/assets/{quote(asset_key)}?view=checks"


# --------------------------------------------------------------------------- failed runs


@dataclass(frozen=True)
class FailedRun:
    """What the run-failure sensor knows of a failed run, ids and names only."""

    job_name: str
    run_id: str
    tags: Mapping[str, str]
    failed_steps: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = ()
    reason: str = ""


BREAKER_CHECK = "retention_purge_guard"


def run_failure_alert(run: FailedRun, ui_base_url: str) -> Alert:
    """A failed run: ``breaker_tripped`` when the purge guard refused it, else ``run_failed``."""
    tripped = BREAKER_CHECK in run.failed_checks
    kind = "breaker_tripped" if tripped else "run_failed"
    tags = {key: run.tags[key] for key in SAFE_RUN_TAGS if run.tags.get(key)}
    scope = f" (tenant {tags['cm/exclusive_tenant']})" if "cm/exclusive_tenant" in tags else ""
    headline = "circuit breaker tripped" if tripped else "run failed"
    lines = [f"{headline}: {run.job_name} run {run.run_id}{scope}"]
    if run.reason:
        lines.append(f"reason: {one_line(run.reason)}")
    if run.failed_checks:
        lines.append(f"failed checks: {_ids(sorted(run.failed_checks))}")
    if run.failed_steps:
        lines.append(f"failed steps: {_ids(sorted(run.failed_steps))}")
    lines += [f"{key}: {value}" for key, value in sorted(tags.items())]
    if tripped:
        lines.append(
            "nothing was deleted by this run; an override needs a second approver "
            "(cm retention purge --override-reason … then cm approve)"
        )
    return Alert(
        kind=kind,
        subject=f"[cm] {headline}: {run.job_name}{scope}",
        lines=tuple(lines),
        links=(run_url(ui_base_url, run.run_id),),
        fingerprint=_fingerprint(kind, run.run_id),
        facts={"run_id": run.run_id, "job": run.job_name, "tags": tags},
    )


# --------------------------------------------------------------------------- failed checks


@dataclass(frozen=True)
class FailedCheck:
    """A failed asset check evaluation: its key, severity, run and id-only details."""

    asset_key: str
    check_name: str
    severity: str
    run_id: str | None
    ids: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    description: str = ""


CHECK_KINDS = {
    "dsar_deadlines_ahead": "dsar_deadline",
    "dsar_none_overdue": "dsar_overdue",
    "dsar_acknowledged_in_time": "dsar_acknowledgement_missed",
    "registry_evidence_in_force": "registry_expiry",
    "audit_chain_intact": "audit_chain_broken",
    "dsar_crm_tasks_delivered": "crm_task_stuck",
    "dncr_internal_list_honoured_in_time": "dnc_opt_out_late",
}


def check_kind(check_name: str) -> str:
    if check_name in CHECK_KINDS:
        return CHECK_KINDS[check_name]
    if check_name.startswith("freshness_check"):
        return "stale_asset"
    return "check_failed"


def check_failure_alert(check: FailedCheck, ui_base_url: str) -> Alert:
    """A failed check (freshness, DSAR deadlines, registry evidence, audit chain): its counts
    and ids, with links to the check and the run that evaluated it."""
    kind = check_kind(check.check_name)
    label = f"{check.asset_key}:{check.check_name}"
    lines = [f"check failed ({check.severity.lower()}): {label}"]
    if check.description:
        lines.append(one_line(check.description))
    lines += [f"{name}: {value}" for name, value in sorted(check.counts.items())]
    if check.ids:
        lines.append(f"ids: {_ids(list(check.ids))}")
    links = [asset_checks_url(ui_base_url, check.asset_key)]
    if check.run_id:
        links.append(run_url(ui_base_url, check.run_id))
    summary = one_line(check.description)
    return Alert(
        kind=kind,
        subject=f"[cm] {kind.replace('_', ' ')}: {label}" + (f" ({summary})" if summary else ""),
        lines=tuple(lines),
        links=tuple(links),
        fingerprint=_fingerprint(kind, label, check.severity, sorted(check.ids)),
        facts={"check": label, "severity": check.severity, "ids": list(check.ids)},
    )


# --------------------------------------------------------------------------- watched facts


@dataclass(frozen=True)
class Deadline:
    """An open request and the days left on its clock (negative: overdue)."""

    request_id: str
    tenant_id: str
    days_left: int


def deadlines_ahead(
    deadlines: Iterable[Deadline], within_days: int
) -> tuple[list[Deadline], list[Deadline]]:
    """(overdue, due within ``within_days`` days), soonest first."""
    ordered = sorted(deadlines, key=lambda d: (d.days_left, d.request_id))
    overdue = [d for d in ordered if d.days_left < 0]
    due_soon = [d for d in ordered if 0 <= d.days_left <= within_days]
    return overdue, due_soon


@dataclass(frozen=True)
class RegistryInForce:
    """A registry's version in force: the day its data describes, how long it is valid, and
    today where the registry dates its files (``data_as_of`` None: no version in force)."""

    registry_id: str
    validity_days: int
    data_as_of: date | None
    today: date


def days_until_expiry(registry: RegistryInForce) -> int | None:
    """Days the evidence stays valid after today (0: today is its last valid day; negative:
    expired). Evidence of day D is valid for ``validity_days`` days: D .. D + validity - 1."""
    if registry.data_as_of is None:
        return None
    last_valid = registry.data_as_of + timedelta(days=registry.validity_days - 1)
    return (last_valid - registry.today).days


def registries_expiring(
    registries: Iterable[RegistryInForce], within_days: int
) -> tuple[list[str], list[str]]:
    """(expired or missing, expiring within ``within_days``) registry ids, sorted."""
    expired, expiring = [], []
    for registry in registries:
        left = days_until_expiry(registry)
        if left is None or left < 0:
            expired.append(registry.registry_id)
        elif left <= within_days:
            expiring.append(registry.registry_id)
    return sorted(expired), sorted(expiring)


@dataclass(frozen=True)
class OutboxTask:
    """A DSAR task for a downstream system (a CRM): erase, rectify or restrict its records."""

    task_id: int
    request_id: str
    tenant_id: str
    recipient: str
    created_at: datetime


def outbox_label(task_id: int) -> str:
    """How an alert names an outbox task (``outbox:12``): an id, never the records it names."""
    return f"outbox:{task_id}"


def stuck_tasks(tasks: Iterable[OutboxTask], now: datetime, after_hours: int) -> list[OutboxTask]:
    """Tasks still pending ``after_hours`` after they were written (their deadline), oldest
    first. A time without a zone is UTC (SQLite hands back naive datetimes)."""

    def utc(moment: datetime) -> datetime:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    deadline_passed = [
        task for task in tasks if utc(now) - utc(task.created_at) > timedelta(hours=after_hours)
    ]
    return sorted(deadline_passed, key=lambda task: (utc(task.created_at), task.task_id))


# --------------------------------------------------------------------------- repeats


REPEAT_AFTER = timedelta(hours=24)


def due_for_sending(
    alert: Alert, sent: Mapping[str, str], now: datetime, repeat_after: timedelta = REPEAT_AFTER
) -> bool:
    """Send unless the same situation (fingerprint) was sent less than ``repeat_after`` ago."""
    last = sent.get(alert.fingerprint)
    return last is None or now - datetime.fromisoformat(last) >= repeat_after


def assert_clean(alert: Alert) -> None:
    """Refuse (``PersonalDataError``) an alert holding a phone number or an email address."""
    assert_no_personal_data(
        {"subject": alert.subject, "lines": list(alert.lines), "facts": dict(alert.facts)},
        context=f"alert {alert.kind}",
    )
