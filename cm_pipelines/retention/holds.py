"""Adding, releasing and listing legal holds: validated, stored in the warehouse, audited.

The audit entry names the hold, its scope and dates, and a keyed hash of the number or address
(never the value); the free-text reason stays in ``legal_holds`` and the audit keeps its hash.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.phone_numbers import normalise_party
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables.retention import legal_holds

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}")
_CALL_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_REASON = 500


class HoldRequestError(ValueError):
    """A hold request or release was refused; the message says what to fix (no personal data)."""


def _reason(text: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise HoldRequestError("a reason is required")
    if len(cleaned) > MAX_REASON:
        raise HoldRequestError(f"the reason must be at most {MAX_REASON} characters")
    return cleaned


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def add_hold(
    connection: sa.Connection,
    tenant: Tenant,
    *,
    call_id: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    from_date: date | None = None,
    to_date: date | None = None,
    reason: str,
    actor: str,
    hash_key: bytes,
) -> str:
    """Store a hold on one call, number or address of ``tenant``; returns its id."""
    given = [
        name for name, value in (("call", call_id), ("phone", phone), ("email", email)) if value
    ]
    if len(given) != 1:
        raise HoldRequestError("give exactly one of --call, --phone or --email")
    scope = given[0]
    if from_date and to_date and from_date > to_date:
        raise HoldRequestError("--from must not be after --to")
    values: dict[str, Any] = {"call_id": None, "e164": None, "email": None}
    details: dict[str, Any] = {}
    if scope == "call":
        if not _CALL_ID.fullmatch(str(call_id)):
            raise HoldRequestError("--call must be a call id (uniqueid) of 1-64 characters")
        values["call_id"] = call_id
        details["call_id"] = call_id
    elif scope == "phone":
        party = normalise_party(str(phone), tenant.country)
        if party.kind != "e164" or party.e164 is None:
            raise HoldRequestError(
                f"--phone is not a valid number for the tenant's country ({tenant.country}); "
                "give it in E.164 form, e.g. +61..."
            )
        values["e164"] = party.e164
        details["target_hash"] = keyed_hash(party.e164, hash_key)
    else:
        address = str(email).strip()
        if not _EMAIL.fullmatch(address):
            raise HoldRequestError("--email is not a valid email address")
        values["email"] = address.lower()
        details["target_hash"] = keyed_hash(address.lower(), hash_key)
    text = _reason(reason)
    hold_id = f"hold-{uuid.uuid4().hex[:16]}"
    now = datetime.now(UTC)
    connection.execute(
        sa.insert(legal_holds).values(
            hold_id=hold_id,
            tenant_id=tenant.id,
            scope=scope,
            from_date=from_date,
            to_date=to_date,
            reason=text,
            created_by=actor,
            created_at=now,
            **values,
        )
    )
    append_audit(
        connection,
        actor=actor,
        action="legal_hold.added",
        tenant_id=tenant.id,
        object_refs={"hold_id": hold_id},
        details={
            "scope": scope,
            "from_date": from_date.isoformat() if from_date else None,
            "to_date": to_date.isoformat() if to_date else None,
            "reason_sha256": _sha256(text),
            **details,
        },
    )
    return hold_id


def _any_row(connection: sa.Connection, *queries: sa.Select[Any]) -> bool:
    return any(connection.execute(query.limit(1)).first() is not None for query in queries)


def require_known_target(
    connection: sa.Connection,
    tenant: Tenant,
    *,
    call_id: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> None:
    """Refuse a hold on a call, number or address ``tenant`` has no record of: a typo would
    otherwise hold nothing while the real call is purged. The message names the option, never
    the value. A value ``add_hold`` would refuse anyway (malformed) is left to it."""
    calls, links = call_tables.calls.c, call_tables.crm_links.c
    if call_id:
        query = sa.select(calls.call_id).where(
            calls.tenant_id == tenant.id, calls.call_id == call_id, calls.deleted_at.is_(None)
        )
        if not _any_row(connection, query):
            raise HoldRequestError(
                f"--call: tenant {tenant.id} has no call with this id; check it, or pass "
                "--allow-unknown for a hold on a call still to arrive"
            )
    elif phone:
        party = normalise_party(str(phone), tenant.country)
        if party.kind != "e164" or party.e164 is None:
            return
        e164 = party.e164
        wash, suppression = dncr_tables.wash_results.c, dncr_tables.suppression_entries.c
        queries = [
            sa.select(calls.call_id).where(calls.tenant_id == tenant.id, calls.src_e164 == e164),
            sa.select(calls.call_id).where(calls.tenant_id == tenant.id, calls.dst_e164 == e164),
            sa.select(links.id).where(links.tenant_id == tenant.id, links.contact_e164 == e164),
            sa.select(wash.id).where(wash.tenant_id == tenant.id, wash.e164 == e164),
            sa.select(suppression.id).where(
                suppression.tenant_id == tenant.id, suppression.e164 == e164
            ),
        ]
        if not _any_row(connection, *queries):
            raise HoldRequestError(
                f"--phone: tenant {tenant.id} has no call, CRM link, wash result or suppression "
                "entry with this number; check it, or pass --allow-unknown for a hold on data "
                "still to arrive"
            )
    elif email:
        address = str(email).strip().lower()
        query = sa.select(links.id).where(
            links.tenant_id == tenant.id, sa.func.lower(links.contact_email) == address
        )
        if not _any_row(connection, query):
            raise HoldRequestError(
                f"--email: tenant {tenant.id} has no CRM link with this address; check it, or "
                "pass --allow-unknown for a hold on data still to arrive"
            )


def active_hold(connection: sa.Connection, hold_id: str) -> dict[str, Any]:
    """The hold ``hold_id``, refused when it does not exist or is already released."""
    row = (
        connection.execute(sa.select(legal_holds).where(legal_holds.c.hold_id == hold_id))
        .mappings()
        .first()
    )
    if row is None:
        raise HoldRequestError(f"no legal hold {hold_id}: see `cm hold list`")
    if row["released_at"] is not None:
        raise HoldRequestError(f"legal hold {hold_id} is already released")
    return dict(row)


def release_hold(
    connection: sa.Connection,
    hold_id: str,
    *,
    reason: str,
    actor: str,
    approved: Mapping[str, Any] | None = None,
) -> None:
    """Release a hold: from now on it covers nothing (the row and its history stay).
    ``approved`` is the second person's approval it was released under (named in the audit)."""
    text = _reason(reason)
    row = active_hold(connection, hold_id)
    now = datetime.now(UTC)
    connection.execute(
        sa.update(legal_holds)
        .where(legal_holds.c.hold_id == hold_id, legal_holds.c.released_at.is_(None))
        .values(released_at=now, released_by=actor, release_reason=text)
    )
    append_audit(
        connection,
        actor=actor,
        action="legal_hold.released",
        tenant_id=row["tenant_id"],
        object_refs={"hold_id": hold_id},
        details={
            "scope": row["scope"],
            "reason_sha256": _sha256(text),
            **(
                {"approval_id": approved["approval_id"], "approved_by": approved["decided_by"]}
                if approved
                else {}
            ),
        },
    )
