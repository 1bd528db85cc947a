"""Appending to the hash-chained audit log, safely under concurrent writers.

Writers serialise on a lock (PostgreSQL advisory lock; SQLite's single immediate writer), read
the chain head, and insert the next ``seq``: the primary key on ``seq`` and the unique
``entry_hash`` make a forked chain impossible even if the lock were bypassed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.audit_chain import GENESIS_HASH, compute_entry_hash
from cm_pipelines.tables.audit import audit_log

AUDIT_LOCK_KEY = 0x636D5F61756469  # "cm_audi": one advisory lock id for the chain head


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

    ``object_refs`` and ``details`` must carry ids, counts and hashes only — never a raw phone
    number, email, name or transcript text.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
    head = connection.execute(
        sa.select(audit_log.c.seq, audit_log.c.entry_hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    seq = (head.seq + 1) if head else 1
    prev_hash = head.entry_hash if head else GENESIS_HASH
    entry: dict[str, Any] = {
        "seq": seq,
        "occurred_at": (occurred_at or datetime.now(UTC)).astimezone(UTC),
        "actor": actor,
        "action": action,
        "tenant_id": tenant_id,
        "object_refs": dict(object_refs or {}),
        "details": dict(details or {}),
        "run_id": run_id,
    }
    entry["prev_hash"] = prev_hash
    entry["entry_hash"] = compute_entry_hash(entry, prev_hash)
    connection.execute(sa.insert(audit_log).values(**entry))
    return entry


def read_chain(connection: sa.Connection) -> list[dict[str, Any]]:
    """Every entry in ``seq`` order, as plain dicts for ``verify_chain``."""
    rows = connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)).mappings()
    return [dict(row) for row in rows]
