"""Post-call audit: was each telemarketing call placed on a decision that allowed it, then?

A call placed outside the workflow (a dialer that skipped the wash, an agent dialling a number
by hand from a campaign) is only visible afterwards, in the CDR. Each outbound campaign call is
matched against what was in force at the moment it was placed:

- the latest do-not-call decision for the number (a wash result or a pre-call check record)
  made at or before that moment: none is ``no_evidence``; a blocking one is
  ``blocked_number``; an allowing one whose ``valid_until`` (registry version age, rewash
  period) had passed is ``evidence_expired``;
- the tenant's internal do-not-call list: an entry in effect at that moment (stored, not
  removed, not expired) is ``internal_list``, even when the earlier wash allowed the number;
- the callee's calling window (``calling_windows``, the hours permitted in every zone the number
  may be in): outside it is ``outside_calling_window``.

CDR times are the tenant PBX's local wall-clock time, so a call's instant is its start read in
the tenant's time zone. A call can have several violations (one per reason). Numbers are
carried only to compute calling windows; a violation holds the keyed hash.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cm_pipelines.domain.dncr.calling_windows import WindowCalculator

NO_EVIDENCE = "no_evidence"
BLOCKED_NUMBER = "blocked_number"
EVIDENCE_EXPIRED = "evidence_expired"
INTERNAL_LIST = "internal_list"
OUTSIDE_WINDOW = "outside_calling_window"
REASONS: tuple[str, ...] = (
    NO_EVIDENCE,
    BLOCKED_NUMBER,
    EVIDENCE_EXPIRED,
    INTERNAL_LIST,
    OUTSIDE_WINDOW,
)


@dataclass(frozen=True)
class PlacedCall:
    """One outbound campaign call; ``started_local`` is the CDR's naive local start time."""

    call_id: str
    campaign_id: str
    e164: str
    e164_hash: str
    started_local: datetime


@dataclass(frozen=True)
class Decision:
    """A wash result (``source`` ``wash``) or a check record (``check``), as stored."""

    e164_hash: str
    decided_at: datetime
    decision: str  # allowed | blocked
    reason: str
    valid_until: datetime | None
    source: str
    ref: str
    registry_id: str | None = None
    registry_version: str | None = None


@dataclass(frozen=True)
class ListEntry:
    """An internal do-not-call entry: in effect from ``created_at`` until expiry or removal."""

    e164_hash: str
    created_at: datetime
    expires_at: datetime | None
    removed_at: datetime | None
    ref: str

    def in_effect(self, at: datetime) -> bool:
        ends = [t for t in (self.expires_at, self.removed_at) if t is not None]
        return self.created_at <= at and all(at < end for end in ends)


@dataclass(frozen=True)
class Violation:
    call_id: str
    campaign_id: str
    e164_hash: str
    placed_at: datetime
    reason: str
    evidence_source: str | None = None
    evidence_ref: str | None = None
    registry_id: str | None = None
    registry_version: str | None = None
    valid_until: datetime | None = None


def placed_at(started_local: datetime, tenant_zone: str) -> datetime:
    """The UTC instant of a CDR start time, read in the tenant's zone (the PBX clock)."""
    if started_local.tzinfo is not None:
        return started_local.astimezone(UTC)
    return started_local.replace(tzinfo=ZoneInfo(tenant_zone)).astimezone(UTC)


class DecisionHistory:
    """Decisions per number, ordered by time, to find the one in force at an instant."""

    def __init__(self, decisions: Iterable[Decision]):
        by_hash: dict[str, list[Decision]] = {}
        for item in decisions:
            by_hash.setdefault(item.e164_hash, []).append(item)
        self._by_hash = {
            key: sorted(items, key=lambda d: (d.decided_at, d.source, d.ref))
            for key, items in by_hash.items()
        }
        self._times = {key: [d.decided_at for d in items] for key, items in self._by_hash.items()}

    def in_force(self, e164_hash: str, at: datetime) -> Decision | None:
        items = self._by_hash.get(e164_hash)
        if not items:
            return None
        index = bisect.bisect_right(self._times[e164_hash], at)
        return items[index - 1] if index else None


def _evidence_violation(call: PlacedCall, at: datetime, decision: Decision | None) -> Violation:
    if decision is None:
        return Violation(call.call_id, call.campaign_id, call.e164_hash, at, NO_EVIDENCE)
    reason = BLOCKED_NUMBER if decision.decision != "allowed" else EVIDENCE_EXPIRED
    return Violation(
        call.call_id,
        call.campaign_id,
        call.e164_hash,
        at,
        reason,
        decision.source,
        decision.ref,
        decision.registry_id,
        decision.registry_version,
        decision.valid_until,
    )


def _evidence_valid(decision: Decision | None, at: datetime) -> bool:
    return (
        decision is not None
        and decision.decision == "allowed"
        and (decision.valid_until is None or at < decision.valid_until)
    )


def audit_calls(
    calls: Sequence[PlacedCall],
    *,
    decisions: Iterable[Decision],
    list_entries: Iterable[ListEntry],
    tenant_zone: str,
    country_of: Callable[[str], str],
) -> list[Violation]:
    """Every violation of ``calls`` (one per call and reason), in call order."""
    if not calls:
        return []
    history = DecisionHistory(decisions)
    entries: dict[str, list[ListEntry]] = {}
    for entry in list_entries:
        entries.setdefault(entry.e164_hash, []).append(entry)
    instants = [placed_at(call.started_local, tenant_zone) for call in calls]
    windows = WindowCalculator(min(instants) - timedelta(days=1), max(instants) + timedelta(days=1))
    violations: list[Violation] = []
    for call, at in zip(calls, instants, strict=True):
        decision = history.in_force(call.e164_hash, at)
        if not _evidence_valid(decision, at):
            violations.append(_evidence_violation(call, at, decision))
        listed = [e for e in entries.get(call.e164_hash, ()) if e.in_effect(at)]
        if listed:
            violations.append(
                Violation(
                    call.call_id,
                    call.campaign_id,
                    call.e164_hash,
                    at,
                    INTERNAL_LIST,
                    "internal_list",
                    listed[0].ref,
                )
            )
        if not windows.for_number(call.e164, country_of(call.e164)).permits(at):
            violations.append(
                Violation(call.call_id, call.campaign_id, call.e164_hash, at, OUTSIDE_WINDOW)
            )
    return violations


def counts_by_reason(violations: Iterable[Violation]) -> dict[str, int]:
    """Violations per reason code, every code present (zero included) for stable metadata."""
    counts = dict.fromkeys(REASONS, 0)
    for violation in violations:
        counts[violation.reason] += 1
    return counts


def calls_in_violation(violations: Iterable[Violation]) -> int:
    return len({violation.call_id for violation in violations})


def as_row(violation: Violation) -> Mapping[str, object]:
    return {
        "call_id": violation.call_id,
        "campaign_id": violation.campaign_id,
        "e164_hash": violation.e164_hash,
        "placed_at": violation.placed_at,
        "reason": violation.reason,
        "evidence_source": violation.evidence_source,
        "evidence_ref": violation.evidence_ref,
        "registry_id": violation.registry_id,
        "registry_version": violation.registry_version,
        "valid_until": violation.valid_until,
    }
