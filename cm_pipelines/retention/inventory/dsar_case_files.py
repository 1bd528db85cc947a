"""Closed DSAR case files: the request row (with its certificate object) and any export left,
dated by when the case closed."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.retention.inventory.frames import artefact_frame, as_date, fetch_frame, scoped
from cm_pipelines.tables import dsar as dsar_tables
from cm_pipelines.tables.retention import retention_tombstones

CLOSED_DSAR_STATES = ("completed", "refused")


def read_dsar_case_files(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> list[pd.DataFrame]:
    """A closed DSAR case: the request row (with its certificate object) and any export left.

    The retention clock starts when the case closed. ``dsar_requests`` has no ``deleted_at``: a
    case file is purged when its tombstone exists.
    """
    requests_t = getattr(dsar_tables, "dsar_requests", None)
    certificates_t = getattr(dsar_tables, "dsar_certificates", None)
    exports_t = getattr(dsar_tables, "dsar_exports", None)
    if requests_t is None or certificates_t is None or exports_t is None:
        return []
    requests = _read_closed_requests(connection, tenant_ids, requests_t, certificates_t)
    if requests.empty:
        return []
    requests["closed_on"] = as_date(requests["closed_on"])
    tombstoned = {
        row[0]
        for row in connection.execute(
            sa.select(retention_tombstones.c.artefact_id).where(
                retention_tombstones.c.record_type == "dsar_case_files"
            )
        )
    }
    request_ids = "request:" + requests["request_id"].astype(str)
    parts = [
        artefact_frame(
            requests["tenant_id"],
            "dsar_case_files",
            request_ids,
            None,
            requests["closed_on"],
            request_ids.isin(tombstoned),
            requests["object_path"],
            requests["sha256"],
        )
    ]
    exports = _read_exports(connection, tenant_ids, exports_t, requests)
    if not exports.empty:
        closed = requests.drop_duplicates("request_id").set_index("request_id")["closed_on"]
        parts.append(
            artefact_frame(
                exports["tenant_id"],
                "dsar_case_files",
                "export:" + exports["id"].astype(str),
                None,
                exports["request_id"].map(closed),
                exports["deleted_at"].notna(),
                exports["object_path"],
                exports["sha256"],
            )
        )
    return parts


def _read_closed_requests(
    connection: sa.Connection,
    tenant_ids: Collection[str] | None,
    requests_t: sa.Table,
    certificates_t: sa.Table,
) -> pd.DataFrame:
    """Closed requests with their certificate object, ``closed_on`` not yet parsed."""
    closed_on = sa.func.coalesce(requests_t.c.completed_at, requests_t.c.updated_at)
    return fetch_frame(
        connection,
        scoped(
            sa.select(
                requests_t.c.request_id,
                requests_t.c.tenant_id,
                closed_on,
                certificates_t.c.object_path,
                certificates_t.c.sha256,
            )
            .select_from(
                requests_t.outerjoin(
                    certificates_t, certificates_t.c.request_id == requests_t.c.request_id
                )
            )
            .where(requests_t.c.state.in_(CLOSED_DSAR_STATES)),
            requests_t,
            tenant_ids,
        ),
        ["request_id", "tenant_id", "closed_on", "object_path", "sha256"],
    )


def _read_exports(
    connection: sa.Connection,
    tenant_ids: Collection[str] | None,
    exports_t: sa.Table,
    requests: pd.DataFrame,
) -> pd.DataFrame:
    """The exports of the closed ``requests``."""
    return fetch_frame(
        connection,
        scoped(
            sa.select(
                exports_t.c.id,
                exports_t.c.request_id,
                exports_t.c.tenant_id,
                exports_t.c.object_path,
                exports_t.c.sha256,
                exports_t.c.deleted_at,
            ).where(exports_t.c.request_id.in_(sorted(set(requests["request_id"])))),
            exports_t,
            tenant_ids,
        ),
        ["id", "request_id", "tenant_id", "object_path", "sha256", "deleted_at"],
    )
