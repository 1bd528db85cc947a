"""Quarantined lines with a known tenant: their raw record is as personal as the row would have
been, so they follow the ``call_logs`` policy like the rows of their day."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.platform.partitions import CALL_DAY_ASSETS
from cm_pipelines.retention.inventory.frames import (
    artefact_frame,
    as_date,
    fetch_frame,
    scoped,
    sources_frame,
)
from cm_pipelines.tables import calls as call_tables

TENANT_LIST_ASSETS: tuple[str, ...] = ("dncr_consents", "dncr_wash")
"""Assets whose quarantine is per tenant (consent and campaign lines): a line is dated by when
it was quarantined and follows ``call_logs`` like the call-day lines."""

FILE_OF_ASSET: dict[str, str] = {"call_records": "cdr_files", "crm_links": "crm_link_files"}
"""Asset -> the landing file type its quarantined lines were read from."""


def quarantine_artefact_ids(ids: pd.Series, created_at: pd.Series) -> pd.Series:
    """``<id>@<created at, microseconds>``: quarantine ids are reused on SQLite once a
    partition's rows are replaced, so the id alone could name two different lines over time."""
    stamps = pd.to_datetime(created_at, errors="coerce", utc=True).dt.strftime("%Y%m%d%H%M%S%f")
    return ids.astype(str) + "@" + stamps.fillna("unknown")


def read_quarantine_records(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarantined lines with a known tenant: artefacts that follow the ``call_logs`` policy of
    their call day (call-day assets) or of the day they were quarantined (consent and campaign
    lists), and the sources of the landing files the call-day lines came from."""
    q = call_tables.quarantine
    rows = fetch_frame(
        connection,
        scoped(
            sa.select(
                q.c.id,
                q.c.asset,
                q.c.partition_key,
                q.c.tenant_id,
                q.c.source_file,
                q.c.created_at,
                q.c.purged_at,
            ).where(
                q.c.asset.in_(CALL_DAY_ASSETS + TENANT_LIST_ASSETS), q.c.tenant_id.is_not(None)
            ),
            q,
            tenant_ids,
        ),
        ["id", "asset", "partition_key", "tenant_id", "source_file", "created_at", "purged_at"],
    )
    artefact_ids = quarantine_artefact_ids(rows["id"], rows["created_at"])
    call_day = rows["asset"].isin(CALL_DAY_ASSETS)
    # parsed apart: one column of mixed date and timestamp texts would parse in one format only
    basis = as_date(rows["partition_key"].where(call_day)).where(
        call_day, as_date(rows["created_at"])
    )
    artefacts = artefact_frame(
        rows["tenant_id"],
        "quarantine_records",
        artefact_ids,
        None,
        basis,
        rows["purged_at"].notna(),
    )
    sources = [
        sources_frame(
            rows.loc[rows["asset"] == asset, "tenant_id"],
            file_type,
            rows.loc[rows["asset"] == asset, "source_file"],
            "quarantine_records",
            artefact_ids.loc[rows["asset"] == asset],
        )
        for asset, file_type in FILE_OF_ASSET.items()
    ]
    return artefacts, pd.concat(sources, ignore_index=True)
