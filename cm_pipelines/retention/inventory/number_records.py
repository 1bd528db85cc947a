"""Do-not-call evidence: wash results, blocked-call and pre-call check records, dated by when they
were decided,
with the numbers (or number hashes) a phone hold matches on."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.retention.inventory.frames import artefact_frame, as_date, fetch_frame, scoped
from cm_pipelines.tables import dncr as dncr_tables


def read_number_records(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """(artefact frames, number records: tenant_id, record_type, artefact_id, e164, e164_hash,
    event_date)."""
    washed = _read_wash_results(connection, tenant_ids)
    blocked = _read_blocked_calls(connection, tenant_ids)
    checked = _read_check_records(connection, tenant_ids)
    washed_on, blocked_on = as_date(washed["washed_at"]), as_date(blocked["decided_at"])
    checked_on = as_date(checked["checked_at"])
    parts = [
        artefact_frame(
            washed["tenant_id"],
            "wash_results",
            washed["id"],
            None,
            washed_on,
            washed["deleted_at"].notna(),
        ),
        artefact_frame(
            blocked["tenant_id"],
            "blocked_calls",
            blocked["id"],
            None,
            blocked_on,
            blocked["deleted_at"].notna(),
        ),
        artefact_frame(
            checked["tenant_id"],
            "dncr_check_records",
            checked["id"],
            None,
            checked_on,
            checked["deleted_at"].notna(),
        ),
    ]
    numbers = pd.concat(
        [
            pd.DataFrame(
                {
                    "tenant_id": washed["tenant_id"],
                    "record_type": "wash_results",
                    "artefact_id": washed["id"].astype(str),
                    "e164": washed["e164"],
                    "e164_hash": washed["e164_hash"],
                    "event_date": washed_on,
                }
            ),
            pd.DataFrame(
                {
                    "tenant_id": blocked["tenant_id"],
                    "record_type": "blocked_calls",
                    "artefact_id": blocked["id"].astype(str),
                    "e164": None,
                    "e164_hash": blocked["e164_hash"],
                    "event_date": blocked_on,
                }
            ),
            pd.DataFrame(
                {
                    "tenant_id": checked["tenant_id"],
                    "record_type": "dncr_check_records",
                    "artefact_id": checked["id"].astype(str),
                    "e164": None,
                    "e164_hash": checked["e164_hash"],
                    "event_date": checked_on,
                }
            ),
        ],
        ignore_index=True,
    )
    return parts, numbers


def _read_wash_results(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> pd.DataFrame:
    wash = dncr_tables.wash_results
    return fetch_frame(
        connection,
        scoped(
            sa.select(
                wash.c.id,
                wash.c.tenant_id,
                wash.c.e164,
                wash.c.e164_hash,
                wash.c.washed_at,
                wash.c.deleted_at,
            ),
            wash,
            tenant_ids,
        ),
        ["id", "tenant_id", "e164", "e164_hash", "washed_at", "deleted_at"],
    )


def _read_blocked_calls(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> pd.DataFrame:
    blocked_t = dncr_tables.blocked_calls
    return fetch_frame(
        connection,
        scoped(
            sa.select(
                blocked_t.c.id,
                blocked_t.c.tenant_id,
                blocked_t.c.e164_hash,
                blocked_t.c.decided_at,
                blocked_t.c.deleted_at,
            ),
            blocked_t,
            tenant_ids,
        ),
        ["id", "tenant_id", "e164_hash", "decided_at", "deleted_at"],
    )


def _read_check_records(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> pd.DataFrame:
    checks = dncr_tables.dncr_check_records
    return fetch_frame(
        connection,
        scoped(
            sa.select(
                checks.c.id,
                checks.c.tenant_id,
                checks.c.e164_hash,
                checks.c.checked_at,
                checks.c.deleted_at,
            ),
            checks,
            tenant_ids,
        ),
        ["id", "tenant_id", "e164_hash", "checked_at", "deleted_at"],
    )
