"""Remote-assistance grants, stored and audited: a privacy officer records that a client approved
support access to its call data for one ticket (``access.granted``), anyone allowed may end it
early (``access.revoked``), and reads ask here for the grant that covers them.

The client-side approver's name is kept in the grant row only; audit entries carry grant ids,
scopes, hours and the approver's keyed hash. Asking twice for the same grant (same tenant,
support identity, scopes and ticket) while it is active returns the active one, so a repeated
command never stacks up access.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.domain.access.support_grants import (
    DEFAULT_MAX_HOURS,
    Coverage,
    GrantRefused,
    clean_approver,
    clean_ticket,
    covering_grant,
    grant_state,
    grant_window,
    parse_scopes,
    require_grantor,
    require_revoker,
)
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.operations.roles import Identity
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.platform.settings import identifier_hash_key
from cm_pipelines.tables.access import support_access_grants

MAX_REASON = 500


def max_grant_hours() -> float:
    """The longest grant allowed: ``CM_SUPPORT_ACCESS_MAX_HOURS``, else 72 hours."""
    configured = dg.EnvVar("CM_SUPPORT_ACCESS_MAX_HOURS").get_value(default="")
    if not configured:
        return float(DEFAULT_MAX_HOURS)
    try:
        hours = float(str(configured))
    except ValueError:
        raise GrantRefused("CM_SUPPORT_ACCESS_MAX_HOURS must be a number of hours") from None
    if not 0 < hours <= 24 * 31:
        raise GrantRefused("CM_SUPPORT_ACCESS_MAX_HOURS must be more than 0 and at most 744")
    return hours


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _row(row: sa.RowMapping | Mapping[str, Any]) -> dict[str, Any]:
    """A grant row with its times made timezone-aware (SQLite hands back naive UTC)."""
    grant = dict(row)
    for key in ("granted_at", "starts_at", "expires_at", "revoked_at"):
        grant[key] = _as_utc(grant[key])
    grant["scopes"] = list(grant["scopes"])
    return grant


def load_grant(connection: sa.Connection, grant_id: str) -> dict[str, Any]:
    row = (
        connection.execute(
            sa.select(support_access_grants).where(support_access_grants.c.grant_id == grant_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        shown = grant_id if grant_id.replace("-", "").isalnum() else "given"
        raise GrantRefused(f"no support access grant {shown[:40]}: see `cm access list`")
    return _row(row)


def list_grants(
    connection: sa.Connection,
    *,
    tenant_id: str | None = None,
    granted_to: str | None = None,
    active_only: bool = False,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Grants oldest first, each with its ``state`` at ``now``."""
    query = sa.select(support_access_grants).order_by(
        support_access_grants.c.granted_at, support_access_grants.c.grant_id
    )
    if tenant_id is not None:
        query = query.where(support_access_grants.c.tenant_id == tenant_id)
    if granted_to is not None:
        query = query.where(support_access_grants.c.granted_to == granted_to)
    at = now or _now()
    grants = [_row(row) for row in connection.execute(query).mappings()]
    for grant in grants:
        grant["state"] = grant_state(grant, at)
    return [g for g in grants if g["state"] == "active"] if active_only else grants


def grant_access(
    connection: sa.Connection,
    *,
    tenant_id: str,
    grantee: Identity,
    grantor: Identity,
    scopes: str,
    approved_by: str,
    ticket: str,
    hours: float,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record a grant (audited) and return it with True, or the identical active one with
    False. Refused (``AccessRefused`` / ``GrantRefused``) before anything is written."""
    require_grantor(grantor, grantee)
    wanted = list(parse_scopes(scopes))
    approver = clean_approver(approved_by)
    ticket_ref = clean_ticket(ticket)
    at = now or _now()
    starts_at, expires_at = grant_window(at, hours, max_grant_hours())
    for existing in list_grants(
        connection, tenant_id=tenant_id, granted_to=grantee.name, active_only=True, now=at
    ):
        if existing["scopes"] == wanted and existing["ticket_ref"] == ticket_ref:
            return existing, False
    grant: dict[str, Any] = {
        "grant_id": f"sag-{secrets.token_hex(6)}",
        "tenant_id": tenant_id,
        "granted_to": grantee.name,
        "scopes": wanted,
        "approved_by": approver,
        "approved_by_hash": keyed_hash(approver.casefold(), identifier_hash_key()),
        "ticket_ref": ticket_ref,
        "granted_by": grantor.actor,
        "granted_at": at,
        "starts_at": starts_at,
        "expires_at": expires_at,
    }
    connection.execute(sa.insert(support_access_grants).values(**grant))
    append_audit(
        connection,
        actor=grantor.actor,
        action="access.granted",
        tenant_id=tenant_id,
        object_refs={"grant_id": grant["grant_id"], "ticket_ref": ticket_ref},
        details={
            "granted_to": grantee.name,
            "scopes": wanted,
            "hours": hours,
            "expires_at": expires_at.isoformat(),
            "approved_by_hash": grant["approved_by_hash"],
        },
        occurred_at=at,
    )
    return {**grant, "revoked_at": None, "revoked_by": None, "state": "active"}, True


def revoke_access(
    connection: sa.Connection,
    grant_id: str,
    revoker: Identity,
    *,
    reason: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """End a grant now (audited). Revoking a revoked grant is refused, saying when and by
    whom; revoking an expired one is refused too (it already opens nothing)."""
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON or any(ord(ch) < 32 for ch in text):
        raise GrantRefused(f"say why (--reason): one line of at most {MAX_REASON} characters")
    grant = load_grant(connection, grant_id)
    require_revoker(revoker, grant)
    at = now or _now()
    state = grant_state(grant, at)
    if state == "revoked":
        raise GrantRefused(
            f"grant {grant_id} was already revoked at {grant['revoked_at']:%Y-%m-%d %H:%M} UTC "
            f"by {grant['revoked_by']}"
        )
    if state == "expired":
        raise GrantRefused(
            f"grant {grant_id} already expired at {grant['expires_at']:%Y-%m-%d %H:%M} UTC"
        )
    connection.execute(
        sa.update(support_access_grants)
        .where(
            support_access_grants.c.grant_id == grant_id,
            support_access_grants.c.revoked_at.is_(None),
        )
        .values(revoked_at=at, revoked_by=revoker.actor, revoke_reason=text)
    )
    append_audit(
        connection,
        actor=revoker.actor,
        action="access.revoked",
        tenant_id=grant["tenant_id"],
        object_refs={"grant_id": grant_id},
        details={"granted_to": grant["granted_to"], "was": state},
        occurred_at=at,
    )
    return load_grant(connection, grant_id)


def covering(
    connection: sa.Connection,
    *,
    tenant_id: str,
    granted_to: str,
    scope: str,
    now: datetime,
) -> Coverage:
    """Which grant (if any) lets ``granted_to`` read ``scope`` of ``tenant_id`` at ``now``."""
    grants = list_grants(connection, tenant_id=tenant_id, granted_to=granted_to, now=now)
    return covering_grant(grants, tenant_id=tenant_id, granted_to=granted_to, scope=scope, now=now)
