"""The rules of remote-assistance grants, on plain data: scopes, approver and ticket values,
the bounded window, who may grant and revoke, which grant covers a read, and which audited
reads no grant allowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cm_pipelines.domain.access.support_grants import (
    GrantRefused,
    clean_approver,
    clean_ticket,
    covering_grant,
    grant_state,
    grant_window,
    local_time,
    overlong_grants,
    parse_scopes,
    read_violations,
    require_grantor,
    require_revoker,
)
from cm_pipelines.domain.operations.roles import AccessRefused, Identity

NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
PRIYA = Identity("priya", frozenset({"privacy_officer"}))
SAM = Identity("sam", frozenset({"support"}))
KIM = Identity("kim", frozenset({"support", "privacy_officer"}))
DANA = Identity("dana", frozenset({"data_engineer"}))


def _grant(grant_id="sag-1", *, scopes=("transcripts",), start=NOW, hours=4, revoked=None, **kw):
    return {
        "grant_id": grant_id,
        "tenant_id": kw.get("tenant_id", "acme-au"),
        "granted_to": kw.get("granted_to", "sam"),
        "scopes": list(scopes),
        "starts_at": start,
        "expires_at": start + timedelta(hours=hours),
        "revoked_at": revoked,
    }


def test_scopes_are_a_validated_sorted_set() -> None:
    assert parse_scopes(" transcripts,Recordings,transcripts ") == ("recordings", "transcripts")
    with pytest.raises(GrantRefused, match="at least one scope"):
        parse_scopes(" , ")
    with pytest.raises(GrantRefused, match="unknown scope everything"):
        parse_scopes("transcripts,everything")
    with pytest.raises(GrantRefused, match=r"unknown scope \?") as refused:
        parse_scopes("+61491570156")
    assert "491570156" not in str(refused.value)


def test_the_approver_is_one_bounded_line_and_the_ticket_is_an_id() -> None:
    assert clean_approver("  Jo Bloggs, Ops Manager ") == "Jo Bloggs, Ops Manager"
    for bad in ("", "a\nb", "x" * 201):
        with pytest.raises(GrantRefused, match="approved"):
            clean_approver(bad)
    assert clean_ticket("ZD-48213") == "ZD-48213"
    assert clean_ticket("48213") == "48213"
    for bad in ("", "two words", "x" * 65, "jo@example.com"):
        with pytest.raises(GrantRefused, match="reference"):
            clean_ticket(bad)
    with pytest.raises(GrantRefused, match="looks like a phone number") as refused:
        clean_ticket("0491570156")
    assert "0491570156" not in str(refused.value)


@pytest.mark.parametrize("hours", [0, -1, 72.01, 100])
def test_the_window_is_positive_and_bounded(hours) -> None:
    with pytest.raises(GrantRefused, match="at most 72"):
        grant_window(NOW, hours, 72)


def test_the_window_starts_now_and_may_reach_the_bound_exactly() -> None:
    assert grant_window(NOW, 72, 72) == (NOW, NOW + timedelta(hours=72))
    assert grant_window(NOW, 0.5, 72)[1] == NOW + timedelta(minutes=30)
    with pytest.raises(GrantRefused, match="timezone-aware"):
        grant_window(NOW.replace(tzinfo=None), 1, 72)


def test_a_privacy_officer_grants_to_a_support_identity_never_to_themselves() -> None:
    require_grantor(PRIYA, SAM)
    with pytest.raises(AccessRefused, match="sam may not grant support access to themselves"):
        require_grantor(SAM, SAM)
    with pytest.raises(AccessRefused, match="kim may not grant support access to themselves"):
        require_grantor(KIM, KIM)
    with pytest.raises(AccessRefused, match=r"dana \(data_engineer\) may not grant"):
        require_grantor(DANA, SAM)
    with pytest.raises(AccessRefused, match="dana is not a support identity"):
        require_grantor(PRIYA, DANA)


def test_a_privacy_officer_or_the_holder_revokes() -> None:
    grant = _grant()
    require_revoker(PRIYA, grant)
    require_revoker(SAM, grant)
    with pytest.raises(AccessRefused, match="a privacy officer or sam may"):
        require_revoker(DANA, grant)


def test_state_at_the_boundaries_of_the_window() -> None:
    grant = _grant(hours=2)
    assert grant_state(grant, NOW - timedelta(seconds=1)) == "pending"
    assert grant_state(grant, NOW) == "active"
    assert grant_state(grant, NOW + timedelta(hours=2, microseconds=-1)) == "active"
    assert grant_state(grant, NOW + timedelta(hours=2)) == "expired"
    assert grant_state(_grant(revoked=NOW), NOW) == "revoked"


def test_the_covering_grant_matches_tenant_identity_scope_and_time() -> None:
    grants = [
        _grant("sag-a", scopes=("transcripts",), hours=2),
        _grant("sag-b", scopes=("recordings", "transcripts"), hours=6),
        _grant("sag-c", scopes=("call_records",), tenant_id="globex-us"),
    ]
    at = NOW + timedelta(hours=1)
    covers = dict(tenant_id="acme-au", granted_to="sam", now=at)
    assert covering_grant(grants, scope="transcripts", **covers).grant_id == "sag-b"
    assert covering_grant(grants, scope="transcripts", **covers).reason is None
    refused = covering_grant(grants, scope="call_records", **covers)
    assert refused.reason == "active grant(s) sag-a, sag-b do not cover call_records"
    late = covering_grant(grants, scope="recordings", **{**covers, "now": NOW + timedelta(hours=6)})
    assert late == late.__class__("sag-b", "grant sag-b is expired")
    other = covering_grant(grants, scope="transcripts", **{**covers, "granted_to": "lee"})
    assert other.grant_id is None and "no support access grant for lee" in other.reason
    with pytest.raises(GrantRefused):
        covering_grant(grants, scope="everything", **covers)


def test_reads_outside_their_grant_are_named_by_seq_and_why() -> None:
    grants = {
        "sag-a": _grant("sag-a", scopes=("transcripts",), hours=2),
        "sag-r": _grant("sag-r", revoked=NOW + timedelta(hours=1)),
    }

    def read(seq, grant_id="sag-a", **kw):
        return {
            "seq": seq,
            "grant_id": grant_id,
            "tenant_id": kw.get("tenant_id", "acme-au"),
            "actor": kw.get("actor", "cli:sam"),
            "scope": kw.get("scope", "transcripts"),
            "occurred_at": kw.get("at", NOW + timedelta(minutes=5)),
        }

    reads = [
        read(1),
        read(2, scope="recordings"),
        read(3, at=NOW + timedelta(hours=2)),
        read(4, tenant_id="globex-us"),
        read(5, actor="cli:lee"),
        read(6, grant_id="sag-zz"),
        read(7, grant_id="sag-r", at=NOW + timedelta(hours=1, minutes=1)),
        read(8, grant_id="sag-r", at=NOW + timedelta(minutes=59)),
        read(9, at=NOW - timedelta(seconds=1)),
    ]
    assert [(v["seq"], v["why"]) for v in read_violations(reads, grants)] == [
        (2, "outside scope"),
        (3, "outside time"),
        (4, "other tenant"),
        (5, "other identity"),
        (6, "no such grant"),
        (7, "after revocation"),
        (9, "outside time"),
    ]


def test_overlong_grants_and_local_display() -> None:
    grants = [_grant("sag-ok", hours=72), _grant("sag-long", hours=73)]
    assert overlong_grants(grants, 72) == ["sag-long"]
    assert local_time(NOW, "Australia/Sydney") == "2026-12-04 07:00 AEDT"
