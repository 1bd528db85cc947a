"""The detective side of support access: audited support reads read back against the grants.

``cm support show`` refuses a read outside a grant, so a violation here means a read was
recorded some other way, a grant row was edited after the fact, or the bound was lowered
below grants already made. The answer holds audit seqs, grant ids and reasons only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.access.support_grants import list_grants
from cm_pipelines.domain.access.support_grants import overlong_grants, read_violations
from cm_pipelines.tables.audit import audit_log

READ_ACTION = "support.read"


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def audited_reads(connection: sa.Connection) -> list[dict[str, Any]]:
    """Every ``support.read`` entry as ``{seq, grant_id, tenant_id, actor, scope, occurred_at}``."""
    rows = connection.execute(
        sa.select(
            audit_log.c.seq,
            audit_log.c.tenant_id,
            audit_log.c.actor,
            audit_log.c.object_refs,
            audit_log.c.details,
            audit_log.c.occurred_at,
        )
        .where(audit_log.c.action == READ_ACTION)
        .order_by(audit_log.c.seq)
    ).mappings()
    return [
        {
            "seq": row["seq"],
            "grant_id": (row["object_refs"] or {}).get("grant_id"),
            "tenant_id": row["tenant_id"],
            "actor": row["actor"],
            "scope": (row["details"] or {}).get("scope"),
            "occurred_at": _as_utc(row["occurred_at"]),
        }
        for row in rows
    ]


def review_support_access(connection: sa.Connection, max_hours: float) -> dict[str, Any]:
    """Reads no grant allowed and grants longer than ``max_hours``; counts beside them."""
    grants = {g["grant_id"]: g for g in list_grants(connection)}
    reads = audited_reads(connection)
    return {
        "reads": len(reads),
        "grants": len(grants),
        "violations": read_violations(reads, grants),
        "overlong": overlong_grants(grants.values(), max_hours),
    }
