"""Landing files go after their rows. A file (a CDR day file, a CRM links file) is planned with
the rows read from it and purged after them; right before deleting one the batch checks again
that no row (or quarantined line) of it is live, and withdraws it (``sources_live``)
otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.artefact_types import SOURCE_FILE_TYPES
from cm_pipelines.retention.purge.plan_records import set_items
from cm_pipelines.tables import calls as call_tables


def files_still_in_use(
    connection: sa.Connection, tenant_id: str, file_type: str, paths: Sequence[str]
) -> set[str]:
    """The landing files among ``paths`` that a live row (neither purged nor erased) or an
    unpurged quarantined line of ``tenant_id`` still comes from."""
    if file_type == "cdr_files":
        table: sa.Table = call_tables.calls
        asset = "call_records"
        live = sa.and_(table.c.deleted_at.is_(None), table.c.erased_at.is_(None))
    else:
        table, asset = call_tables.crm_links, "crm_links"
        live = table.c.deleted_at.is_(None)
    q = call_tables.quarantine
    in_use: set[str] = set()
    for start in range(0, len(paths), 500):
        chunk = list(paths[start : start + 500])
        in_use.update(
            str(row[0])
            for row in connection.execute(
                sa.select(table.c.source_file)
                .where(table.c.tenant_id == tenant_id, table.c.source_file.in_(chunk), live)
                .distinct()
            )
        )
        in_use.update(
            str(row[0])
            for row in connection.execute(
                sa.select(q.c.source_file)
                .where(
                    q.c.tenant_id == tenant_id,
                    q.c.asset == asset,
                    q.c.source_file.in_(chunk),
                    q.c.purged_at.is_(None),
                )
                .distinct()
            )
        )
    return in_use


def withdraw_files_still_in_use(
    connection: sa.Connection, plan_id: str, items: pd.DataFrame, run_id: str
) -> tuple[pd.DataFrame, int]:
    """Right before deleting landing files: withdraw those a row still comes from (a row held
    or kept since planning, a line re-ingested), so a file never goes before its rows.
    Returns the items left and how many were withdrawn."""
    files = items.loc[items["record_type"].isin(list(SOURCE_FILE_TYPES))]
    if files.empty:
        return items, 0
    withdraw: list[int] = []
    for (tenant_id, file_type), group in files.groupby(["tenant_id", "record_type"]):
        in_use = files_still_in_use(
            connection, str(tenant_id), str(file_type), group["artefact_id"].astype(str).tolist()
        )
        withdraw.extend(
            int(n) for n in group.loc[group["artefact_id"].isin(in_use), "item_no"].tolist()
        )
    if not withdraw:
        return items, 0
    set_items(
        connection,
        plan_id,
        withdraw,
        status="withdrawn",
        detail="sources_live",
        now=datetime.now(UTC),
        run_id=run_id,
    )
    return items.loc[~items["item_no"].isin(withdraw)], len(withdraw)
