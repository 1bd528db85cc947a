"""Remote-assistance grants: a client approves that Call Manager support may look at its call
data for one ticket, for some kinds of record, for a few hours. These rules decide whether a
grant may be made, whether it covers a read, and whether past reads stayed inside their grant.

Plain data in and out (no database): the service stores grants and writes the audit entries;
the rules here are the ones a reviewer reads. Times are timezone-aware UTC throughout; the
tenant's zone is only for showing them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cm_pipelines.domain.operations.roles import PRIVACY_OFFICER, SUPPORT, AccessRefused, Identity
from cm_pipelines.domain.redaction import find_personal_data

SCOPES: tuple[str, ...] = ("call_records", "crm_links", "recordings", "transcripts")
"""What a grant may open: the kinds of client call data support can read through the platform."""

GRANTORS = frozenset({PRIVACY_OFFICER})
"""Who records a client's approval: a privacy officer (never the support identity it is for)."""

DEFAULT_MAX_HOURS = 72
"""Remote assistance is for a ticket, not standing access: three days unless configured lower
(or, with a stated reason, higher) through ``CM_SUPPORT_ACCESS_MAX_HOURS``."""

MAX_APPROVER = 200
_TICKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:#/-]{0,63}")


class GrantRefused(ValueError):
    """A grant cannot be made, used or revoked; the message says why, never personal data."""


@dataclass(frozen=True)
class Coverage:
    """Whether a grant lets a read happen now: ``reason`` is None when it does."""

    grant_id: str | None
    reason: str | None


def parse_scopes(text: str) -> tuple[str, ...]:
    """``recordings,transcripts`` -> the sorted distinct scopes; unknown or none refused."""
    items = [item.strip().lower() for item in (text or "").split(",") if item.strip()]
    if not items:
        raise GrantRefused(f"name at least one scope (--scope): {', '.join(SCOPES)}")
    unknown = sorted({item for item in items if item not in SCOPES})
    if unknown:
        shown = ", ".join(item if item.isidentifier() else "?" for item in unknown[:5])
        raise GrantRefused(f"unknown scope {shown}: use {', '.join(SCOPES)}")
    return tuple(sorted(set(items)))


def clean_approver(text: str) -> str:
    """The client-side approver as given (name and role): one printable line, bounded."""
    value = (text or "").strip()
    if not value:
        raise GrantRefused("say who approved on the client side (--approved-by 'name, role')")
    if len(value) > MAX_APPROVER or any(ord(ch) < 32 for ch in value):
        raise GrantRefused(f"--approved-by is one line of at most {MAX_APPROVER} characters")
    return value


def clean_ticket(text: str) -> str:
    """The ticket or purpose reference: an id (it goes into the audit chain as it is), so a
    phone number or email address in its place is refused."""
    value = (text or "").strip()
    if not _TICKET.fullmatch(value):
        raise GrantRefused(
            "--ticket is a reference of 1-64 letters, digits and . _ : # / - (e.g. ZD-48213)"
        )
    if find_personal_data(value):
        raise GrantRefused("--ticket looks like a phone number or email: give the ticket's id")
    return value


def grant_window(now: datetime, hours: float, max_hours: float) -> tuple[datetime, datetime]:
    """Start now, expire ``hours`` later: more than zero and at most ``max_hours``."""
    if now.tzinfo is None:
        raise GrantRefused("grant times are timezone-aware")
    if not 0 < hours <= max_hours:
        raise GrantRefused(f"--hours must be more than 0 and at most {max_hours:g}")
    return now, now + timedelta(hours=hours)


def require_grantor(grantor: Identity, grantee: Identity) -> None:
    """A privacy officer records the grant, for an identity holding the support role, and
    never for themselves (support cannot grant itself access)."""
    if grantor.name == grantee.name:
        raise AccessRefused(f"{grantor.name} may not grant support access to themselves")
    if not grantor.roles & GRANTORS:
        raise AccessRefused(
            f"{grantor.name} ({', '.join(sorted(grantor.roles))}) may not grant support "
            "access: it needs a privacy officer"
        )
    if SUPPORT not in grantee.roles:
        raise AccessRefused(f"{grantee.name} is not a support identity of the roles file")


def require_revoker(revoker: Identity, grant: Mapping[str, Any]) -> None:
    """A privacy officer revokes any grant; the support identity may give up its own."""
    if revoker.roles & GRANTORS or revoker.name == grant["granted_to"]:
        return
    raise AccessRefused(
        f"{revoker.name} ({', '.join(sorted(revoker.roles))}) may not revoke "
        f"{grant['grant_id']}: a privacy officer or {grant['granted_to']} may"
    )


def grant_state(grant: Mapping[str, Any], now: datetime) -> str:
    """``revoked``, ``expired``, ``pending`` (not started) or ``active`` at ``now``."""
    if grant.get("revoked_at") is not None:
        return "revoked"
    if now >= grant["expires_at"]:
        return "expired"
    if now < grant["starts_at"]:
        return "pending"
    return "active"


def covering_grant(
    grants: Iterable[Mapping[str, Any]],
    *,
    tenant_id: str,
    granted_to: str,
    scope: str,
    now: datetime,
) -> Coverage:
    """The active grant letting ``granted_to`` read ``scope`` of ``tenant_id`` now (the one
    expiring last), else the reason the closest one does not."""
    if scope not in SCOPES:
        raise GrantRefused(f"unknown scope: use {', '.join(SCOPES)}")
    mine = [g for g in grants if g["tenant_id"] == tenant_id and g["granted_to"] == granted_to]
    if not mine:
        return Coverage(None, f"no support access grant for {granted_to} on {tenant_id}")
    active = [g for g in mine if grant_state(g, now) == "active"]
    if not active:
        latest = max(mine, key=lambda g: g["expires_at"])
        return Coverage(
            latest["grant_id"], f"grant {latest['grant_id']} is {grant_state(latest, now)}"
        )
    scoped = [g for g in active if scope in g["scopes"]]
    if not scoped:
        ids = ", ".join(sorted(g["grant_id"] for g in active))
        return Coverage(None, f"active grant(s) {ids} do not cover {scope}")
    best = max(scoped, key=lambda g: g["expires_at"])
    return Coverage(best["grant_id"], None)


def local_time(moment: datetime, zone: str) -> str:
    """``moment`` in the tenant's zone, for display next to the UTC value."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def read_violations(
    reads: Iterable[Mapping[str, Any]], grants: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Audited support reads that no grant allowed: unknown grant, another tenant or identity,
    a scope outside the grant, or a time outside start..expiry (or after revocation).

    Each read is ``{seq, grant_id, tenant_id, actor, scope, occurred_at}``; the answer names the
    audit seq, grant id and why (ids only)."""
    found: list[dict[str, Any]] = []
    for read in reads:
        grant = grants.get(str(read.get("grant_id")))
        why = _violation(read, grant)
        if why:
            found.append({"seq": read["seq"], "grant_id": read.get("grant_id"), "why": why})
    return found


def _violation(read: Mapping[str, Any], grant: Mapping[str, Any] | None) -> str | None:
    if grant is None:
        return "no such grant"
    if read["tenant_id"] != grant["tenant_id"]:
        return "other tenant"
    if str(read["actor"]).split(":", 1)[-1] != grant["granted_to"]:
        return "other identity"
    if read["scope"] not in grant["scopes"]:
        return "outside scope"
    when = read["occurred_at"]
    revoked = grant.get("revoked_at")
    if when < grant["starts_at"] or when >= grant["expires_at"]:
        return "outside time"
    if revoked is not None and when >= revoked:
        return "after revocation"
    return None


def overlong_grants(grants: Iterable[Mapping[str, Any]], max_hours: float) -> list[str]:
    """Grants whose window is longer than the bound allows (a row written around the rules or
    before the bound was lowered). Ids only."""
    bound = timedelta(hours=max_hours)
    return sorted(g["grant_id"] for g in grants if g["expires_at"] - g["starts_at"] > bound)
