"""The landing files rows were read from (a CDR day file, a CRM links file): only paths that are
exactly the tenant's landing file of a day, tombstoned ones marked purged, and the lines a DSAR
erasure blanked in them."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.artefact_types import SOURCE_FILE_TYPES
from cm_pipelines.domain.retention.source_files import SOURCE_COLUMNS
from cm_pipelines.platform import landing
from cm_pipelines.retention.inventory.frames import empty_frame, fetch_frame, scoped
from cm_pipelines.tables import dsar as dsar_tables
from cm_pipelines.tables.retention import retention_tombstones

FILE_OF_DSAR_STORE: dict[str, str] = {
    "cdr_source_lines": "cdr_files",
    "crm_source_lines": "crm_link_files",
}
"""DSAR store of blanked landing lines -> the landing file type (``domain.dsar_planning``)."""
DSAR_BLANK_LINE = "blank_line"

LANDING_FILE: dict[str, Callable[[str, str], str]] = {
    "cdr_files": landing.cdr_file,
    "crm_link_files": landing.crm_links_file,
}
"""Landing file type -> where a tenant's file of a day lives."""


def read_dsar_blanked_lines(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> pd.DataFrame:
    """Landing lines a DSAR erasure blanked in place: erased sources of their files. A CRM link
    an erasure deleted leaves no row behind, so without these a file whose every link was
    erased would have nothing pointing at it and would never go."""
    items = getattr(dsar_tables, "dsar_plan_items", None)
    if items is None:
        return empty_frame(SOURCE_COLUMNS)
    done = fetch_frame(
        connection,
        scoped(
            sa.select(items.c.tenant_id, items.c.store, items.c.request_id, items.c.item_ref).where(
                items.c.store.in_(list(FILE_OF_DSAR_STORE)),
                items.c.action == DSAR_BLANK_LINE,
                items.c.executed_at.is_not(None),
            ),
            items,
            tenant_ids,
        ),
        ["tenant_id", "store", "request_id", "item_ref"],
    )
    if done.empty:
        return empty_frame(SOURCE_COLUMNS)
    return pd.DataFrame(
        {
            "tenant_id": done["tenant_id"].astype(str).to_numpy(),
            "record_type": done["store"].map(FILE_OF_DSAR_STORE).to_numpy(),
            "artefact_id": done["item_ref"].astype(str).str.rpartition("#")[0].to_numpy(),
            "source_type": "dsar_blanked_lines",
            "source_id": (done["request_id"].astype(str) + ":" + done["item_ref"]).to_numpy(),
            "erased": True,
        }
    )


def is_landing_file(file_type: str, tenant_id: str, path: str) -> bool:
    """Whether ``path`` is exactly the tenant's landing file of that type for some day: a row
    never points a purge at another tenant's file or at a path it merely claims."""
    day = path.rsplit("/", 2)[-2] if path.count("/") >= 2 else ""
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return path == LANDING_FILE[file_type](tenant_id, day)


def read_landing_files(
    connection: sa.Connection, tenant_ids: Collection[str] | None, sources: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The landing files rows point at (checked paths only), tombstoned ones marked purged, and
    the sources of those files."""
    keys = ["tenant_id", "record_type", "artefact_id"]
    files = sources.loc[:, keys].drop_duplicates()
    valid = [
        is_landing_file(file_type, tenant_id, path)
        for tenant_id, file_type, path in files.itertuples(index=False)
    ]
    files = files.loc[valid]
    t = retention_tombstones
    tombstoned = fetch_frame(
        connection,
        scoped(
            sa.select(t.c.tenant_id, t.c.record_type, t.c.artefact_id).where(
                t.c.record_type.in_(list(SOURCE_FILE_TYPES))
            ),
            t,
            tenant_ids,
        ),
        keys,
    )
    files = pd.concat([files, tombstoned], ignore_index=True).drop_duplicates(keys)
    marker = tombstoned.assign(purged=True).set_index(keys)["purged"]
    files["purged"] = (
        marker.reindex(pd.MultiIndex.from_frame(files[keys])).fillna(False).to_numpy(dtype=bool)
        if not files.empty
        else pd.Series(dtype=bool)
    )
    kept = sources.merge(files[keys], on=keys, how="inner")
    return files.reset_index(drop=True), kept
