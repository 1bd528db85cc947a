"""Reading the tenant's rows that a plan names, in IN lists of bounded size.

Every query is bound to the fulfilment's tenant as well as to the planned refs, so a plan can
never reach another tenant's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar.planning import PlannedAction
from cm_pipelines.dsar.fulfil.context import FulfilmentContext

ID_CHUNK = 500


def chunks(values: Sequence[Any], size: int = ID_CHUNK) -> Iterable[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def rows_by_ref(
    fulfilment: FulfilmentContext,
    connection: sa.Connection,
    table: sa.Table,
    column: sa.Column,
    refs: Sequence[Any],
) -> list[dict[str, Any]]:
    """The tenant's rows of ``table`` whose ``column`` is one of ``refs``."""
    found: list[dict[str, Any]] = []
    for chunk in chunks(list(refs)):
        found.extend(
            dict(row)
            for row in connection.execute(
                sa.select(table).where(table.c.tenant_id == fulfilment.tenant.id, column.in_(chunk))
            ).mappings()
        )
    return found


def artefact_key_in(table: sa.Table, actions: Sequence[PlannedAction]) -> sa.ColumnElement[bool]:
    """Row keys of planned artefact actions (``call_id``; ``call_id/kind`` for AI outputs)."""
    if "kind" in table.c:
        pairs = [tuple(a.ref.rsplit("/", 1)) for a in actions]
        return sa.tuple_(table.c.call_id, table.c.kind).in_(pairs)
    return table.c.call_id.in_([a.ref for a in actions])
