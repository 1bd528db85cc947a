"""The shared SQLAlchemy metadata, column helpers and the one meaning of a *live* row."""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# Times are stored as timezone-aware UTC; SQLite keeps them as ISO text.
UtcDateTime = sa.DateTime(timezone=True)
JsonDocument = sa.JSON().with_variant(sa.JSON(), "sqlite")


def live_rows(table: sa.Table) -> sa.ColumnElement[bool]:
    """Rows neither purged by retention nor erased by a DSAR (where the table can be erased)."""
    live: sa.ColumnElement[bool] = table.c.deleted_at.is_(None)
    if "erased_at" in table.c:
        live = sa.and_(live, table.c.erased_at.is_(None))
    return live
