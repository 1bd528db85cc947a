"""Appending to the hash-chained audit log, safely under concurrent writers.

Every capability records what it did here, inside the transaction that does the work. Writers
serialise on a lock (PostgreSQL advisory lock; SQLite's single immediate writer), read the chain
head, and insert the next ``seq``. The primary key on ``seq``, the unique ``entry_hash`` and the
insert trigger of migration ``0005_trust`` (the new entry must extend the current head) make a
forked chain impossible even if the lock were bypassed; the update and delete triggers make the
table append-only for everyone short of its owner dropping them. Verifying the chain is the
trust capability's work (``cm_pipelines.trust.chain``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.redaction import PersonalDataError, assert_no_personal_data
from cm_pipelines.domain.tenants import ConfigError, validate_tenant_id
from cm_pipelines.domain.trust.audit_chain import (
    GENESIS_HASH,
    compute_entry_hash,
)
from cm_pipelines.tables.audit import audit_log

AUDIT_LOCK_KEY = 0x636D5F61756469  # "cm_audi": one advisory lock id for the chain head
MAX_DOCUMENT_BYTES = 64 * 1024
"""object_refs and details are references and counts; anything bigger belongs in the store."""

_ACTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,63}")


class AuditEntryRefused(ValueError):
    """An audit entry was not written; the message says which field is wrong, never its value."""


def _printable(value: Any, field: str, max_length: int, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise AuditEntryRefused(f"audit {field}: must be a non-empty string")
    if len(value) > max_length:
        raise AuditEntryRefused(f"audit {field}: longer than {max_length} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise AuditEntryRefused(f"audit {field}: contains control characters")
    return value


def _json_ready(value: Any, path: str) -> Any:
    """The value exactly as it will read back from a JSON column (so the hash still matches)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AuditEntryRefused(f"audit {path}: numbers must be finite")
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        return sorted(_json_ready(item, f"{path}[]") for item in value)
    raise AuditEntryRefused(
        f"audit {path}: {type(value).__name__} is not JSON (use ids, counts, hashes)"
    )


def _document(value: Mapping[str, Any] | None, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AuditEntryRefused(f"audit {field}: must be a mapping")
    document = _json_ready(value, field)
    if len(json.dumps(document, ensure_ascii=False).encode()) > MAX_DOCUMENT_BYTES:
        raise AuditEntryRefused(f"audit {field}: larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        assert_no_personal_data(document, context=f"audit {field}")
    except PersonalDataError as exc:
        raise AuditEntryRefused(str(exc)) from None
    return document


def _lock_chain_head(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
    # SQLite: the warehouse engine opens every transaction with BEGIN IMMEDIATE, which already
    # holds the database's single write lock; the insert trigger refuses a stale head anyway.


def append_audit(
    connection: sa.Connection,
    *,
    actor: str,
    action: str,
    tenant_id: str | None = None,
    object_refs: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """Append one entry inside the caller's transaction and return it (with its hash).

    ``object_refs`` and ``details`` must carry ids, counts and keyed hashes only: an entry holding
    a phone number or email is refused (``AuditEntryRefused``) before anything is written.
    """
    actor = _printable(actor, "actor", 128, required=True)  # type: ignore[assignment]
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise AuditEntryRefused(
            "audit action: must be 1-64 characters of letters, digits and _ . : / -"
        )
    if tenant_id is not None:
        try:
            validate_tenant_id(tenant_id, "audit tenant_id")
        except ConfigError as exc:
            raise AuditEntryRefused(str(exc)) from None
    run_id = _printable(run_id, "run_id", 64, required=False)
    refs = _document(object_refs, "object_refs")
    facts = _document(details, "details")
    when = occurred_at or datetime.now(UTC)
    if when.tzinfo is None:
        raise AuditEntryRefused("audit occurred_at: must be timezone-aware")

    _lock_chain_head(connection)
    head = connection.execute(
        sa.select(audit_log.c.seq, audit_log.c.entry_hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    seq = (head.seq + 1) if head else 1
    prev_hash = head.entry_hash if head else GENESIS_HASH
    entry: dict[str, Any] = {
        "seq": seq,
        "occurred_at": when.astimezone(UTC),
        "actor": actor,
        "action": action,
        "tenant_id": tenant_id,
        "object_refs": refs,
        "details": facts,
        "run_id": run_id,
    }
    entry["prev_hash"] = prev_hash
    entry["entry_hash"] = compute_entry_hash(entry, prev_hash)
    connection.execute(sa.insert(audit_log).values(**entry))
    return entry
