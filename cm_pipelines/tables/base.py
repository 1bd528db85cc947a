"""The shared SQLAlchemy metadata and column helpers every table module uses."""

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
