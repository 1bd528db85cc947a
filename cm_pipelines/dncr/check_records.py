"""Pre-call check records: every decision ``cm dncr check`` (or a job checking single numbers)
gives is stored with its reason and evidence, the number only as its keyed hash, and kept under
the do-not-call evidence rule like wash results."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.tables import dncr as tables

CHANNELS = ("cli", "job")


def store_check_records(
    connection: sa.Connection,
    tenant_id: str,
    results: pd.DataFrame,
    *,
    checked_at: datetime,
    channel: str,
    checked_by: str,
) -> int:
    """One record per checked number (rows of a ``wash`` result), inside the caller's
    transaction; returns how many were stored."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown check channel {channel!r}")
    if results.empty:
        return 0
    rows = pd.DataFrame(
        {
            "tenant_id": tenant_id,
            "e164_hash": results["e164_hash"].astype(str),
            "decision": results["decision"],
            "reason": results["reason"],
            "registry_id": results["registry_id"],
            "registry_version": results["registry_version"],
            "evidence_date": [v if isinstance(v, date) else None for v in results["evidence_date"]],
            "evidence_age_days": results["evidence_age_days"],
            "rule": results["rule"],
            "valid_until": results["valid_until"],
            "checked_at": checked_at,
            "channel": channel,
            "checked_by": checked_by[:128],
            "deleted_at": None,
        }
    )
    return bulk_insert(connection, tables.dncr_check_records, rows)


def check_records(connection: sa.Connection, tenant_id: str) -> list[dict]:
    """A tenant's check records, oldest first (for audits and tests)."""
    table = tables.dncr_check_records
    query = (
        sa.select(table)
        .where(table.c.tenant_id == tenant_id, table.c.deleted_at.is_(None))
        .order_by(table.c.id)
    )
    return [dict(row) for row in connection.execute(query).mappings()]
