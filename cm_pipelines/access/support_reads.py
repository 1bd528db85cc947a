"""Support reads of a tenant's call data through the platform, each one audited.

A support identity asks for one artefact of one call (its call record, transcript, CRM links or
recording). The read happens only under an active grant covering that tenant, that kind of
record and this moment; what is shown has the other party's identifiers masked (numbers and
emails in the record and the transcript text, the caller's name withheld). Every answer, a
refusal included, is an audit entry naming the reader, the grant, the call and the artefact's
hash: never its content. A recording is written to a local file given by the caller, or handed
out as a short-lived signed URL where the object store can sign one (S3).
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cm_pipelines.access.support_grants import covering
from cm_pipelines.domain.access.support_grants import GrantRefused
from cm_pipelines.domain.operations.roles import SUPPORT, AccessRefused, Identity
from cm_pipelines.domain.phone_numbers import mask_number
from cm_pipelines.domain.redaction import find_personal_data, redact_text
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.tables.calls import calls, crm_links, recordings, transcripts

KIND_SCOPES = {
    "call": "call_records",
    "transcript": "transcripts",
    "crm": "crm_links",
    "recording": "recordings",
}
_CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
URL_SECONDS = 15 * 60
"""A signed recording URL lives a quarter of an hour: long enough to open, too short to share."""


class ReadRefused(GrantRefused):
    """A support read was refused (and audited as refused)."""


def _masked(e164: str | None) -> str | None:
    if not e164:
        return None
    try:
        return mask_number(e164)
    except ValueError:
        return "***"


def _email(address: str | None) -> str | None:
    if not address:
        return None
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _call(connection: sa.Connection, tenant_id: str, call_id: str) -> dict[str, Any] | None:
    row = (
        connection.execute(
            sa.select(calls).where(calls.c.tenant_id == tenant_id, calls.c.call_id == call_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def _one(connection: sa.Connection, table: sa.Table, tenant_id: str, call_id: str) -> Any:
    return (
        connection.execute(
            sa.select(table).where(
                table.c.tenant_id == tenant_id,
                table.c.call_id == call_id,
                table.c.deleted_at.is_(None),
            )
        )
        .mappings()
        .first()
    )


def _call_record(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "call_id": call["call_id"],
        "started_at": str(call["started_at"]),
        "ended_at": str(call["ended_at"]),
        "duration_s": call["duration_s"],
        "disposition": call["disposition"],
        "direction": call["direction"],
        "src": _masked(call["src_e164"]) or call["src_extension"],
        "dst": _masked(call["dst_e164"]) or call["dst_extension"],
        "caller_name": "[withheld]" if call["caller_name"] else None,
    }


def _transcript(connection: sa.Connection, tenant_id: str, call_id: str) -> dict[str, Any] | None:
    row = _one(connection, transcripts, tenant_id, call_id)
    if row is None:
        return None
    return {
        "call_id": call_id,
        "format": row["format"],
        "language": row["language"],
        "segments": len(row["segments"] or []),
        "text": redact_text(row["text"]),
        "sha256": row["sha256"],
    }


def _crm(connection: sa.Connection, tenant_id: str, call_id: str) -> dict[str, Any] | None:
    rows = connection.execute(
        sa.select(crm_links)
        .where(
            crm_links.c.tenant_id == tenant_id,
            crm_links.c.call_id == call_id,
            crm_links.c.deleted_at.is_(None),
            crm_links.c.restricted_at.is_(None),
        )
        .order_by(crm_links.c.crm_system, crm_links.c.crm_record_id)
    ).mappings()
    links = [
        {
            "crm_system": row["crm_system"],
            "crm_record_id": row["crm_record_id"],
            "contact_phone": _masked(row["contact_e164"]),
            "contact_email": _email(row["contact_email"]),
        }
        for row in rows
    ]
    return {"call_id": call_id, "links": links} if links else None


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only, whole or not at all."""
    if path.is_dir():
        raise ReadRefused("--out names a folder: give a file path for the WAV")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(partial, path)


def _recording(
    connection: sa.Connection,
    store: ObjectStoreResource,
    tenant_id: str,
    call_id: str,
    out: Path | None,
) -> dict[str, Any] | None:
    row = _one(connection, recordings, tenant_id, call_id)
    if row is None:
        return None
    answer = {"call_id": call_id, "sha256": row["sha256"], "bytes": row["bytes"]}
    if out is not None:
        data = store.read_bytes(row["object_path"])
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            raise ReadRefused(f"recording of {call_id} does not match its catalogued hash")
        _write_private(out, data)
        return {**answer, "delivered": "file", "out": str(out)}
    if store.protocol == "file":
        raise ReadRefused("a local object store cannot sign a URL: give --out FILE.wav")
    url = store.filesystem().sign(store.full_path(row["object_path"]), expiration=URL_SECONDS)
    return {**answer, "delivered": "url", "url": url, "url_seconds": URL_SECONDS}


def _artefact(
    connection: sa.Connection,
    store: ObjectStoreResource | None,
    kind: str,
    tenant_id: str,
    call_id: str,
    out: Path | None,
) -> tuple[dict[str, Any] | None, str | None]:
    """The masked artefact, or None with why there is none to show."""
    call = _call(connection, tenant_id, call_id)
    if call is None or call["deleted_at"] is not None or call["erased_at"] is not None:
        return None, "not_found"
    if call["restricted_at"] is not None:
        return None, "restricted"
    if kind == "call":
        return _call_record(call), None
    if kind == "transcript":
        found = _transcript(connection, tenant_id, call_id)
    elif kind == "crm":
        found = _crm(connection, tenant_id, call_id)
    else:
        if store is None:
            raise ValueError("reading a recording needs the object store")
        found = _recording(connection, store, tenant_id, call_id, out)
    return found, None if found is not None else "not_found"


def _refuse(connection, reader, tenant_id, call_id, kind, grant_id, why) -> dict[str, Any]:
    append_audit(
        connection,
        actor=reader.actor,
        action="support.read_refused",
        tenant_id=tenant_id,
        object_refs={"call_id": call_id, "grant_id": grant_id},
        details={"artefact": kind, "scope": KIND_SCOPES[kind], "why": why},
    )
    return {"refused": why, "grant_id": grant_id}


def support_read(
    connection: sa.Connection,
    reader: Identity,
    *,
    tenant_id: str,
    call_id: str,
    kind: str,
    store: ObjectStoreResource | None = None,
    out: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Read one artefact as ``reader`` under a covering grant, audited either way.

    Returns ``{"grant_id", "artefact": {...}}``, or ``{"refused": why, ...}`` after auditing
    the refusal (the caller commits, then reports it): a refusal is evidence too."""
    if kind not in KIND_SCOPES:
        raise ReadRefused(f"unknown artefact: use {', '.join(KIND_SCOPES)}")
    if not _CALL_ID.fullmatch(call_id or "") or find_personal_data(call_id):
        # the call id goes into the audit entry: a number or address typed in its place is
        # refused here, unechoed, rather than written or half-written
        raise ReadRefused("--call is the call's uniqueid (e.g. 1763630102.421)")
    if SUPPORT not in reader.roles:
        raise AccessRefused(f"{reader.name} is not a support identity: reads here are support's")
    at = now or datetime.now(UTC)
    coverage = covering(
        connection, tenant_id=tenant_id, granted_to=reader.name, scope=KIND_SCOPES[kind], now=at
    )
    if coverage.reason is not None:
        refused = _refuse(connection, reader, tenant_id, call_id, kind, coverage.grant_id, "grant")
        return {**refused, "detail": coverage.reason}
    artefact, missing = _artefact(connection, store, kind, tenant_id, call_id, out)
    if artefact is None:
        return _refuse(connection, reader, tenant_id, call_id, kind, coverage.grant_id, missing)
    append_audit(
        connection,
        actor=reader.actor,
        action="support.read",
        tenant_id=tenant_id,
        object_refs={
            "grant_id": coverage.grant_id,
            "call_id": call_id,
            **({"sha256": artefact["sha256"]} if "sha256" in artefact else {}),
        },
        details={
            "artefact": kind,
            "scope": KIND_SCOPES[kind],
            "delivered": artefact.get("delivered", "shown"),
            **({"links": len(artefact["links"])} if "links" in artefact else {}),
        },
        occurred_at=at,
    )
    return {"grant_id": coverage.grant_id, "artefact": artefact}
