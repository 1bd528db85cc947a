"""Post-call audit rules: each outbound campaign call against the decision in force when it was
placed (tenant time zone), the internal list and the callee's calling window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cm_pipelines.domain.dncr.post_call_audit import (
    BLOCKED_NUMBER,
    EVIDENCE_EXPIRED,
    INTERNAL_LIST,
    NO_EVIDENCE,
    OUTSIDE_WINDOW,
    Decision,
    ListEntry,
    PlacedCall,
    audit_calls,
    calls_in_violation,
    counts_by_reason,
    placed_at,
)

NY = "America/New_York"
CALLEE = "+12125550143"  # New York: US window 08:00-21:00 local
HASH = "h-callee"


def _call(local: datetime, call_id: str = "c1") -> PlacedCall:
    return PlacedCall(call_id, "spring", CALLEE, HASH, local)


def _allowed(at: datetime, valid_until: datetime | None, ref: str = "1") -> Decision:
    return Decision(HASH, at, "allowed", "not_registered", valid_until, "wash", ref, "us_ftc", "v1")


def _audit(calls, decisions=(), entries=(), zone=NY):
    return audit_calls(
        calls,
        decisions=decisions,
        list_entries=entries,
        tenant_zone=zone,
        country_of=lambda _e164: "US",
    )


WASHED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
VALID_UNTIL = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)


def test_the_cdr_start_is_read_in_the_tenants_zone() -> None:
    local = datetime(2026, 11, 24, 10, 0)
    assert placed_at(local, NY) == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert placed_at(local, "Australia/Sydney") == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def test_a_call_on_valid_allowing_evidence_inside_the_window_is_clean() -> None:
    assert _audit([_call(datetime(2026, 11, 24, 10, 0))], [_allowed(WASHED, VALID_UNTIL)]) == []


def test_a_call_just_before_and_just_after_the_window_edges() -> None:
    decisions = [_allowed(WASHED, VALID_UNTIL)]
    calls = [
        _call(datetime(2026, 11, 24, 7, 59, 59), "early"),
        _call(datetime(2026, 11, 24, 8, 0, 0), "first"),
        _call(datetime(2026, 11, 24, 20, 59, 59), "last"),
        _call(datetime(2026, 11, 24, 21, 0, 0), "late"),
    ]
    found = {(v.call_id, v.reason) for v in _audit(calls, decisions)}
    assert found == {("early", OUTSIDE_WINDOW), ("late", OUTSIDE_WINDOW)}


def test_the_window_is_the_callees_even_when_the_tenant_is_elsewhere() -> None:
    """10:00 in Sydney is 18:00 in New York the day before: inside the callee's window; 23:30
    in Sydney is 07:30 in New York: outside, though the agent's clock said evening."""
    decisions = [_allowed(WASHED, VALID_UNTIL)]
    calls = [
        _call(datetime(2026, 11, 25, 10, 0), "inside"),
        _call(datetime(2026, 11, 25, 23, 30), "outside"),
    ]
    found = {(v.call_id, v.reason) for v in _audit(calls, decisions, zone="Australia/Sydney")}
    assert found == {("outside", OUTSIDE_WINDOW)}


def test_evidence_expired_by_minutes_is_a_violation_naming_it() -> None:
    expiry = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York
    decisions = [_allowed(WASHED, expiry, ref="41")]
    before = _call(datetime(2026, 11, 24, 9, 55), "before")
    after = _call(datetime(2026, 11, 24, 10, 5), "after")
    [violation] = _audit([before, after], decisions)
    assert (violation.call_id, violation.reason) == ("after", EVIDENCE_EXPIRED)
    assert (violation.evidence_source, violation.evidence_ref) == ("wash", "41")
    assert violation.valid_until == expiry and violation.registry_version == "v1"


def test_no_evidence_before_the_call_even_if_a_wash_came_later() -> None:
    call = _call(datetime(2026, 11, 24, 10, 0))
    later = _allowed(datetime(2026, 11, 24, 15, 30, tzinfo=UTC), VALID_UNTIL)
    [violation] = _audit([call], [later])
    assert violation.reason == NO_EVIDENCE and violation.evidence_ref is None


def test_the_latest_decision_before_the_call_is_the_one_in_force() -> None:
    call = _call(datetime(2026, 11, 24, 10, 0))
    blocked = Decision(
        HASH, WASHED + timedelta(days=1), "blocked", "registry", None, "check", "7", "us_ftc", "v2"
    )
    [violation] = _audit([call], [_allowed(WASHED, VALID_UNTIL), blocked])
    assert (violation.reason, violation.evidence_source, violation.evidence_ref) == (
        BLOCKED_NUMBER,
        "check",
        "7",
    )
    # A later allowing check lifts it again.
    allowed_again = _allowed(WASHED + timedelta(days=2), VALID_UNTIL, ref="9")
    assert _audit([call], [_allowed(WASHED, VALID_UNTIL), blocked, allowed_again]) == []


def test_an_internal_list_entry_in_effect_overrides_an_earlier_allowing_wash() -> None:
    at = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    entry = ListEntry(HASH, at - timedelta(minutes=1), at + timedelta(days=1827), None, "12")
    late_entry = ListEntry(HASH, at + timedelta(minutes=1), None, None, "13")
    removed = ListEntry(HASH, at - timedelta(days=9), None, at - timedelta(days=1), "14")
    call = _call(datetime(2026, 11, 24, 10, 0))
    decisions = [_allowed(WASHED, VALID_UNTIL)]
    [violation] = _audit([call], decisions, [entry, late_entry, removed])
    assert (violation.reason, violation.evidence_ref) == (INTERNAL_LIST, "12")
    assert _audit([call], decisions, [late_entry, removed]) == []


def test_counts_cover_every_reason_and_distinct_calls() -> None:
    calls = [_call(datetime(2026, 11, 24, 22, 0), "a"), _call(datetime(2026, 11, 24, 10), "b")]
    violations = _audit(calls)
    assert counts_by_reason(violations) == {
        NO_EVIDENCE: 2,
        BLOCKED_NUMBER: 0,
        EVIDENCE_EXPIRED: 0,
        INTERNAL_LIST: 0,
        OUTSIDE_WINDOW: 1,
    }
    assert calls_in_violation(violations) == 2
