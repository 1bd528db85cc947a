"""Appending to the hash-chained audit log, safely under concurrent writers, and verifying it.

Writers serialise on a lock (PostgreSQL advisory lock; SQLite's single immediate writer), read
the chain head, and insert the next ``seq``. The primary key on ``seq``, the unique
``entry_hash`` and the insert trigger of migration ``0005_trust`` (the new entry must extend the
current head) make a forked chain impossible even if the lock were bypassed; the update and
delete triggers make the table append-only for everyone short of its owner dropping them.

Verification walks the chain in pages and compares it with *anchors*: heads recorded in the
object store by the daily verification, out of reach of whoever administers the database.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from cm_pipelines import landing
from cm_pipelines.domain.audit_chain import (
    GENESIS_HASH,
    ChainAnchor,
    ChainVerdict,
    compute_entry_hash,
    verify_chain,
)
from cm_pipelines.domain.redaction import PersonalDataError, assert_no_personal_data
from cm_pipelines.domain.tenants import ConfigError, validate_tenant_id
from cm_pipelines.tables.audit import audit_log

AUDIT_LOCK_KEY = 0x636D5F61756469  # "cm_audi": one advisory lock id for the chain head
MAX_DOCUMENT_BYTES = 64 * 1024
"""object_refs and details are references and counts; anything bigger belongs in the store."""
PAGE_SIZE = 5_000
ANCHORS_DIR = f"{landing.AUDIT}/anchors"

_ACTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class AuditEntryRefused(ValueError):
    """An audit entry was not written; the message says which field is wrong, never its value."""


class _ObjectStore(Protocol):
    def write_bytes(self, path: str, data: bytes) -> None: ...
    def read_bytes(self, path: str) -> bytes: ...
    def list_files(self, prefix: str) -> list[Any]: ...


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


def iter_chain(connection: sa.Connection, page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """Every entry in ``seq`` order, read a page at a time (constant memory on any log size)."""
    after = None
    while True:
        query = sa.select(audit_log).order_by(audit_log.c.seq).limit(page_size)
        if after is not None:
            query = query.where(audit_log.c.seq > after)
        rows = [dict(row) for row in connection.execute(query).mappings()]
        yield from rows
        if len(rows) < page_size:
            return
        after = rows[-1]["seq"]


def read_chain(connection: sa.Connection) -> list[dict[str, Any]]:
    """Every entry in ``seq`` order, as plain dicts for ``verify_chain``."""
    return list(iter_chain(connection))


def verify_warehouse_chain(
    connection: sa.Connection, anchors: Iterable[ChainAnchor] = ()
) -> ChainVerdict:
    """Verify the warehouse's audit log against the given anchors."""
    return verify_chain(iter_chain(connection), anchors)


def anchor_path(anchor: ChainAnchor) -> str:
    """Object-store path of one recorded head (sorted by seq when listed)."""
    return f"{ANCHORS_DIR}/head-{anchor.seq:012d}-{anchor.entry_hash[:16]}.json"


def record_anchor(
    object_store: _ObjectStore, verdict: ChainVerdict, *, run_id: str | None = None
) -> str | None:
    """Write the verified head to the object store; a broken or empty chain is never anchored."""
    if not verdict.ok or verdict.head_seq == 0:
        return None
    anchor = ChainAnchor(verdict.head_seq, verdict.head_hash)
    path = anchor_path(anchor)
    document = {
        "seq": anchor.seq,
        "entry_hash": anchor.entry_hash,
        "recorded_at": datetime.now(UTC).isoformat(),
        "run_id": run_id,
    }
    object_store.write_bytes(path, json.dumps(document, sort_keys=True).encode())
    return path


class AnchorUnreadable(ValueError):
    """An anchor file in the object store is not what ``record_anchor`` writes."""


def load_anchors(object_store: _ObjectStore) -> list[ChainAnchor]:
    """Every anchor recorded so far, oldest first; a damaged anchor file is an error, not skipped."""
    anchors = []
    for item in object_store.list_files(ANCHORS_DIR):
        if not item.path.endswith(".json"):
            continue
        try:
            document = json.loads(object_store.read_bytes(item.path))
            anchor = ChainAnchor(int(document["seq"]), str(document["entry_hash"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorUnreadable(f"anchor file {item.path} cannot be read") from exc
        if anchor.seq < 1 or not _HEX64.fullmatch(anchor.entry_hash):
            raise AnchorUnreadable(f"anchor file {item.path} holds no valid seq and hash")
        anchors.append(anchor)
    return sorted(anchors, key=lambda anchor: anchor.seq)
