"""The legal holds stored in the warehouse, for matching (``domain.retention.holds``) and for
``cm hold list``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from cm_pipelines.retention.inventory.frames import scoped
from cm_pipelines.tables.retention import legal_holds


def load_holds(
    connection: sa.Connection,
    tenant_ids: Collection[str] | None = None,
    *,
    include_released: bool = False,
) -> list[dict[str, Any]]:
    query = scoped(sa.select(legal_holds), legal_holds, tenant_ids).order_by(
        legal_holds.c.created_at, legal_holds.c.hold_id
    )
    if not include_released:
        query = query.where(legal_holds.c.released_at.is_(None))
    return [dict(row) for row in connection.execute(query).mappings()]
