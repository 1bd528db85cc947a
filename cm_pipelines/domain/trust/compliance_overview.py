"""The compliance overview a privacy officer reads: one Markdown page, per tenant (its chart is
drawn by ``overview_chart``).

Sections come from capabilities that may not be deployed yet; a section whose data is ``None`` is
shown as "not yet available" instead of failing the page. Everything shown is an id, a count, a
date, a hash or a path — never a phone number, email, name or free-text reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

NOT_AVAILABLE = "_not yet available_"
RETENTION_STATES: tuple[str, ...] = ("active", "due", "held", "purged")
DUE_SOON_DAYS = 7
DSAR_URGENT_DAYS = 7


@dataclass(frozen=True)
class RegistryEvidence:
    """The newest evidence a tenant's washing relied on from one registry."""

    registry_id: str
    validity_days: int
    evidence_date: date | None
    version: str | None = None
    results_past_validity: int = 0

    def age_days(self, as_of: date) -> int | None:
        return None if self.evidence_date is None else (as_of - self.evidence_date).days

    def status(self, as_of: date) -> str:
        age = self.age_days(as_of)
        if age is None:
            return "no evidence"
        return "valid" if age <= self.validity_days else "STALE"


@dataclass(frozen=True)
class OpenDsar:
    request_id: str
    request_type: str
    state: str
    due_date: date
    extended: bool = False

    def days_left(self, as_of: date) -> int:
        return (self.due_date - as_of).days


@dataclass(frozen=True)
class ActiveHold:
    hold_id: str
    scope: str
    since: date
    created_by: str


@dataclass(frozen=True)
class PurgeSummary:
    plan_id: str
    status: str
    as_of: date
    completed_on: date | None
    items_for_tenant: int
    proof_path: str | None
    proof_sha256: str | None


@dataclass
class TenantOverview:
    """One tenant's state; ``None`` in a section means its capability is not deployed yet."""

    tenant_id: str
    name: str
    local_date: date | None = None
    """The tenant's own calendar day, which statutory clocks count in (page date if unset)."""
    registries: list[RegistryEvidence] | None = None
    wash_outcomes: dict[tuple[str, str], int] | None = None
    post_call_violations: dict[str, int] | None = None
    """Violations the post-call audit holds, by reason code (every audited day)."""
    retention_states: dict[str, dict[str, int]] | None = None
    retention_due_soon: dict[str, int] | None = None
    open_dsars: list[OpenDsar] | None = None
    holds: list[ActiveHold] | None = None
    last_purge: PurgeSummary | None = None
    purges_available: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AuditStatus:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    first_bad_seq: int | None = None


def _count(value: int) -> str:
    """Thousands separators: readable, and never a digit run a masker would take for a number."""
    return f"{value:,}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _registry_lines(overview: TenantOverview, as_of: date) -> list[str]:
    if overview.registries is None:
        return [NOT_AVAILABLE]
    if not overview.registries:
        return ["No do-not-call registry applies to this tenant."]
    rows = []
    for evidence in overview.registries:
        age = evidence.age_days(as_of)
        rows.append(
            (
                evidence.registry_id,
                evidence.version or "—",
                evidence.evidence_date.isoformat() if evidence.evidence_date else "—",
                "—" if age is None else age,
                evidence.validity_days,
                evidence.status(as_of),
                _count(evidence.results_past_validity),
            )
        )
    return _table(
        (
            "registry",
            "version",
            "newest evidence",
            "age (days)",
            "valid for (days)",
            "status",
            "results past validity",
        ),
        rows,
    )


def _wash_lines(overview: TenantOverview) -> list[str]:
    if overview.wash_outcomes is None:
        return [NOT_AVAILABLE]
    if not overview.wash_outcomes:
        return ["No numbers washed yet."]
    rows = [
        (decision, reason, _count(count))
        for (decision, reason), count in sorted(overview.wash_outcomes.items())
    ]
    return _table(("decision", "reason", "numbers"), rows)


def _post_call_lines(overview: TenantOverview) -> list[str]:
    if overview.post_call_violations is None:
        return [NOT_AVAILABLE]
    if not overview.post_call_violations:
        return ["No placed call broke the do-not-call rules."]
    rows = [
        (reason, _count(count)) for reason, count in sorted(overview.post_call_violations.items())
    ]
    return _table(("reason", "violations"), rows)


def _retention_lines(overview: TenantOverview) -> list[str]:
    if overview.retention_states is None:
        return [NOT_AVAILABLE]
    if not overview.retention_states:
        return ["No artefact states computed yet."]
    due_soon = overview.retention_due_soon or {}
    rows = []
    for record_type, states in sorted(overview.retention_states.items()):
        rows.append(
            (
                record_type,
                *(_count(states.get(state, 0)) for state in RETENTION_STATES),
                _count(due_soon.get(record_type, 0)),
            )
        )
    return _table(
        ("record type", *RETENTION_STATES, f"due within {DUE_SOON_DAYS} days"),
        rows,
    )


def _dsar_lines(overview: TenantOverview, as_of: date) -> list[str]:
    if overview.open_dsars is None:
        return [NOT_AVAILABLE]
    if not overview.open_dsars:
        return ["No open requests."]
    rows = []
    for request in sorted(overview.open_dsars, key=lambda r: (r.due_date, r.request_id)):
        left = request.days_left(as_of)
        flag = "OVERDUE" if left < 0 else ("urgent" if left <= DSAR_URGENT_DAYS else "")
        rows.append(
            (
                request.request_id,
                request.request_type,
                request.state,
                request.due_date.isoformat() + (" (extended)" if request.extended else ""),
                left,
                flag,
            )
        )
    return _table(("request", "type", "state", "due", "days left", ""), rows)


def _hold_lines(overview: TenantOverview) -> list[str]:
    if overview.holds is None:
        return [NOT_AVAILABLE]
    if not overview.holds:
        return ["No active legal holds."]
    rows = [
        (hold.hold_id, hold.scope, hold.since.isoformat(), hold.created_by)
        for hold in sorted(overview.holds, key=lambda h: (h.since, h.hold_id))
    ]
    return _table(("hold", "scope", "since", "placed by"), rows)


def _purge_lines(overview: TenantOverview) -> list[str]:
    if not overview.purges_available:
        return [NOT_AVAILABLE]
    purge = overview.last_purge
    if purge is None:
        return ["No purge has run for this tenant yet."]
    proof = (
        f"`{purge.proof_path}` (sha256 `{purge.proof_sha256}`)"
        if purge.proof_path
        else "no proof recorded"
    )
    completed = purge.completed_on.isoformat() if purge.completed_on else "not completed"
    return [
        f"Plan `{purge.plan_id}` ({purge.status}) as of {purge.as_of.isoformat()}, "
        f"completed {completed}: {_count(purge.items_for_tenant)} artefact(s) of this tenant. "
        f"Proof of deletion: {proof}."
    ]


def _audit_lines(audit: AuditStatus | None) -> list[str]:
    if audit is None:
        return [NOT_AVAILABLE]
    if audit.ok:
        return [
            f"Intact: {_count(audit.entries)} entries, head {audit.head_seq} "
            f"(`{audit.head_hash[:16]}`)."
        ]
    return [
        f"**BROKEN** at entry {audit.first_bad_seq} ({audit.problem}); "
        "run `cm audit verify` and treat the log as evidence of tampering."
    ]


def render_markdown(
    overviews: Sequence[TenantOverview],
    as_of: date,
    audit: AuditStatus | None,
    chart_path: str | None = None,
) -> str:
    """The whole page: a platform header, then one section per tenant."""
    lines = [
        f"# Compliance overview — {as_of.isoformat()}",
        "",
        "## Audit log",
        *_audit_lines(audit),
        "",
    ]
    if chart_path:
        lines += [f"Chart of retention states and DSAR deadlines: `{chart_path}`", ""]
    for overview in overviews:
        lines += [
            f"## {overview.tenant_id} — {overview.name}",
            "",
            "### Do-not-call registry evidence",
            *_registry_lines(overview, overview.local_date or as_of),
            "",
            "### Wash outcomes",
            *_wash_lines(overview),
            "",
            "### Post-call audit",
            *_post_call_lines(overview),
            "",
            "### Retention",
            *_retention_lines(overview),
            "",
            "### Open DSARs",
            *_dsar_lines(overview, overview.local_date or as_of),
            "",
            "### Legal holds",
            *_hold_lines(overview),
            "",
            "### Last purge",
            *_purge_lines(overview),
            "",
        ]
        lines += [f"> {note}" for note in overview.notes]
    return "\n".join(lines).rstrip() + "\n"


def summary_counts(overviews: Sequence[TenantOverview], as_of: date) -> dict[str, int]:
    """Platform-wide numbers for the asset's metadata and the run log."""
    days_left = [
        d.days_left(o.local_date or as_of) for o in overviews for d in (o.open_dsars or [])
    ]
    return {
        "tenants": len(overviews),
        "open_dsars": len(days_left),
        "overdue_dsars": sum(1 for left in days_left if left < 0),
        "urgent_dsars": sum(1 for left in days_left if 0 <= left <= DSAR_URGENT_DAYS),
        "active_holds": sum(len(o.holds or []) for o in overviews),
        "stale_registries": sum(
            1
            for o in overviews
            for r in (o.registries or [])
            if r.status(o.local_date or as_of) == "STALE"
        ),
        "artefacts_due": sum(
            states.get("due", 0)
            for o in overviews
            for states in (o.retention_states or {}).values()
        ),
    }


def tenant_counts(overviews: Sequence[TenantOverview], as_of: date) -> dict[str, dict[str, int]]:
    """Per tenant, the numbers the chart draws, under names that never change, so that Dagster
    plots each one over time from the asset's metadata. A section not deployed yet gives no
    numbers (rather than zeros a plot would show as real)."""
    counts: dict[str, dict[str, int]] = {}
    for overview in overviews:
        numbers: dict[str, int] = {}
        if overview.retention_states is not None:
            for state in RETENTION_STATES:
                numbers[f"artefacts_{state}"] = sum(
                    states.get(state, 0) for states in overview.retention_states.values()
                )
        if overview.open_dsars is not None:
            days_left = [d.days_left(overview.local_date or as_of) for d in overview.open_dsars]
            numbers["open_dsars"] = len(days_left)
            numbers["overdue_dsars"] = sum(1 for left in days_left if left < 0)
            numbers["urgent_dsars"] = sum(1 for left in days_left if 0 <= left <= DSAR_URGENT_DAYS)
        if overview.holds is not None:
            numbers["active_holds"] = len(overview.holds)
        if overview.post_call_violations is not None:
            numbers["post_call_violations"] = sum(overview.post_call_violations.values())
        counts[overview.tenant_id] = numbers
    return counts
