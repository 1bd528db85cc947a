"""Warehouse tables (SQLAlchemy Core), a module per capability, one shared ``metadata``.

Alembic migrations in ``cm_pipelines/migrations`` create these tables; a test compares the
migrated schema with this metadata so the two never drift apart. Importing this package
registers every table module on ``metadata``.
"""

from cm_pipelines.tables import (  # noqa: F401  (register tables)
    access,
    audit,
    calls,
    dncr,
    dsar,
    identifier_index,
    operations,
    retention,
    volumes,
)
from cm_pipelines.tables.base import metadata

__all__ = ["metadata"]
